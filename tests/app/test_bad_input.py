"""Hostile input wherever a learner uploads, types or edits a link: a clear message, never a traceback.

Seeds are real Fashion-MNIST test items encoded in every upload format; hypothesis mutates them (and
invents bytes, kernel text, pooling settings and link parameters). Every outcome is counted; the
counts are printed at the end of the module (`pytest -s` shows them).
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from components.catalog import ALL_PAGES
from components.framework.query_state import QUERY_NAMES, config_from_link, plain_markdown
from components.framework.session_keys import (
    DEEPER_INDEX,
    DEEPER_TAB,
    FILTERS_DILATION,
    FILTERS_KERNEL_SOURCE,
    FILTERS_LEARNED_INDEX,
    FILTERS_LIBRARY,
    INSPECT_SOURCE,
    INSPECT_TAB,
    POOL_MODE,
    POOL_SIZE,
    POOL_STRIDE,
)
from components.image_picker import decode_upload
from models.design.config import COURSE_CNN, CNNConfig, ConfigError, plan
from models.inputs.images import ImageError, load_image, load_image_with_notes
from models.ops.convolution import MAX_KERNEL_SIZE, KernelError, parse_kernel
from models.ops.pooling import PoolError, output_shape, pool2d
from tests.support.apptest import open_page
from tests.support.browser import ROOT

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OUTCOMES: Counter[tuple[str, str]] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_outcomes():
    yield
    total = sum(OUTCOMES.values())
    print(f"\nbad-input outcomes ({total} inputs tried):")
    for (surface, outcome), count in sorted(OUTCOMES.items()):
        print(f"  {surface:<34} {outcome:<44} {count:>5}")


# ---------------------------------------------------------------- real seeds and hostile files


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def fashion_items(count: int = 3) -> list[np.ndarray]:
    from models.inputs.fashion_mnist import load_fashion_mnist

    return list(load_fashion_mnist()[1][0][:count])


ITEMS = fashion_items()
ITEM = Image.fromarray(ITEMS[0])
SEEDS: dict[str, bytes] = {
    "png": encode(ITEM, "PNG"),
    "jpeg": encode(ITEM.convert("RGB"), "JPEG", quality=90),
    "gif": encode(ITEM, "GIF"),
    "bmp": encode(ITEM, "BMP"),
    "webp": encode(ITEM, "WEBP"),
    "tiff": encode(ITEM, "TIFF"),
}


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_rows(width: int, height: int, bit_depth: int = 1) -> bytes:
    """A valid grayscale PNG of zeros: a few kilobytes that decompress to width x height pixels (a bomb)."""
    row = b"\0" * (1 + (width * bit_depth + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def png_header_claiming(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    wide = Image.fromarray(np.hstack(ITEMS[:2]))
    return encode(wide.convert("RGB"), "JPEG", exif=exif.tobytes())


def palette_with_transparency() -> bytes:
    image = ITEM.convert("P")
    image.info["transparency"] = 0
    return encode(image, "PNG", transparency=0)


def animated_gif() -> bytes:
    frames = [Image.fromarray(item) for item in ITEMS]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


# (upload name, bytes, what must happen): "error" = an st.error with a message, "image" = the image is used.
HOSTILE_FILES: list[tuple[str, bytes, str]] = [
    ("truncated.png", SEEDS["png"][: len(SEEDS["png"]) // 2], "error"),
    ("truncated.jpg", SEEDS["jpeg"][:200], "error"),
    ("png-named.jpg", SEEDS["png"], "image"),
    ("empty.png", b"", "error"),
    ("one-pixel.png", encode(Image.fromarray(np.array([[200]], dtype=np.uint8)), "PNG"), "either"),
    ("header-20000x20000.png", png_header_claiming(20_000, 20_000), "error"),
    ("bomb-10000x10000.png", png_with_rows(10_000, 10_000), "error"),
    ("animated.gif", animated_gif(), "image"),
    ("cmyk.jpg", encode(ITEM.convert("CMYK"), "JPEG"), "image"),
    ("sixteen-bit.png", encode(Image.fromarray(ITEMS[1].astype(np.uint16) * 257), "PNG"), "image"),
    ("palette-transparent.png", palette_with_transparency(), "image"),
    ("exif-rotated.jpg", exif_rotated_jpeg(), "image"),
    ("random.png", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "error"),
    ("document.gif", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n", "error"),
    ("bad-crc.png", SEEDS["png"][:40] + bytes([SEEDS["png"][40] ^ 0xFF]) + SEEDS["png"][41:], "error"),
]


def check_decoded(pixels: np.ndarray, grayscale: bool) -> None:
    assert pixels.dtype == np.float32 and pixels.flags.c_contiguous
    assert pixels.ndim == (2 if grayscale else 3) and (grayscale or pixels.shape[2] == 3)
    assert min(pixels.shape[:2]) >= 1 and max(pixels.shape[:2]) <= 1024
    assert np.all(np.isfinite(pixels)) and pixels.min() >= 0.0 and pixels.max() <= 1.0


def try_load(surface: str, data: bytes, grayscale: bool) -> str:
    """Decode; the only allowed failure is ImageError with a sentence for the learner."""
    try:
        pixels, notes = load_image_with_notes(data, grayscale=grayscale)
    except ImageError as error:
        message = str(error)
        assert message.endswith(".") and len(message) > 20 and "Traceback" not in message, message
        outcome = "rejected: " + message.split(":")[0].split(".")[0][:40]
    else:
        check_decoded(pixels, grayscale)
        assert all(isinstance(note, str) and note for note in notes)
        outcome = "decoded"
    OUTCOMES[(surface, outcome)] += 1
    return outcome


@pytest.mark.parametrize("name,data,expected", HOSTILE_FILES, ids=[case[0] for case in HOSTILE_FILES])
def test_hostile_files_are_decoded_or_rejected_clearly(name, data, expected):
    for grayscale in (True, False):
        outcome = try_load("load_image (hostile files)", data, grayscale)
        assert expected == "either" or (outcome == "decoded") == (expected == "image"), (name, outcome)


def test_named_formats_keep_their_meaning():
    assert load_image_with_notes(animated_gif())[1] == ["Animated image: using the first frame"]
    assert "CMYK converted to RGB" in load_image_with_notes(encode(ITEM.convert("CMYK"), "JPEG"))[1]
    rotated, notes = load_image_with_notes(exif_rotated_jpeg(), grayscale=True)
    assert rotated.shape == (56, 28) and "Rotated upright using the camera's EXIF orientation" in notes
    sixteen = load_image(encode(Image.fromarray(ITEMS[1].astype(np.uint16) * 257), "PNG"), grayscale=True)
    np.testing.assert_allclose(sixteen, ITEMS[1] / 255.0, atol=1e-6)
    with pytest.raises(ImageError, match="more than the limit of 40,000,000"):
        load_image(png_with_rows(10_000, 10_000))


MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("flip"), st.floats(0.0, 1.0), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.floats(0.0, 1.0), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.floats(0.0, 1.0), st.integers(1, 64)),
    st.tuples(st.just("header"), st.integers(0, 63), st.binary(min_size=1, max_size=8)),
)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:
    for mutation in mutations:
        kind, where = mutation[0], mutation[1]
        at = where if kind == "header" else int(where * len(data))
        if kind == "truncate":
            data = data[:at]
        elif kind == "flip" and at < len(data):
            data = data[:at] + bytes([data[at] ^ mutation[2]]) + data[at + 1 :]
        elif kind in ("insert", "header"):
            data = data[:at] + mutation[2] + data[at + len(mutation[2]) * (kind == "header") :]
        elif kind == "delete":
            data = data[:at] + data[at + mutation[2] :]
    return data


@SETTINGS
@given(st.sampled_from(sorted(SEEDS)), st.lists(MUTATIONS, min_size=1, max_size=4), st.booleans())
def test_mutated_real_images_are_decoded_or_rejected_clearly(seed, mutations, grayscale):
    try_load(f"load_image (mutated {seed})", mutate(SEEDS[seed], mutations), grayscale)


@SETTINGS
@given(st.binary(max_size=2048), st.booleans())
def test_arbitrary_bytes_are_rejected_clearly(data, grayscale):
    try_load("load_image (arbitrary bytes)", data, grayscale)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(HOSTILE_FILES), st.booleans())
def test_decode_upload_raises_only_image_error(case, grayscale):
    name, data, _expected = case
    try:
        pixels, notes = decode_upload(data, grayscale)
    except ImageError as error:
        assert str(error)
        OUTCOMES[("image_picker.decode_upload", "rejected with ImageError")] += 1
    else:
        check_decoded(pixels, grayscale)
        assert isinstance(notes, tuple)
        OUTCOMES[("image_picker.decode_upload", "decoded")] += 1


# ---------------------------------------------------------------- typed kernels and pooling settings


KERNEL_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="0123456789-+.,;/ \n[]eE\u2212infa", max_size=80),
    st.lists(
        st.lists(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-(10**40), 10**40).map(str)
            ),
            min_size=1,
            max_size=9,
        ),
        min_size=1,
        max_size=9,
    ).map(lambda rows: "\n".join(" ".join(row) for row in rows)),
    st.integers(1, 9)
    .flatmap(
        lambda n: st.lists(st.lists(st.floats(-1e7, 1e7).map(str), min_size=n, max_size=n), min_size=n, max_size=n)
    )
    .map(lambda rows: ";".join(", ".join(row) for row in rows)),
)


@SETTINGS
@given(KERNEL_TEXT)
def test_typed_kernels_parse_to_usable_weights_or_a_clear_error(text):
    try:
        weights = parse_kernel(text)
    except KernelError as error:
        assert str(error) and "Traceback" not in str(error)
        OUTCOMES[("filters.parse_kernel", "KernelError")] += 1
        return
    size = weights.shape[0]
    assert weights.dtype == np.float32 and weights.shape == (size, size)
    assert size % 2 == 1 and size <= MAX_KERNEL_SIZE
    assert np.all(np.isfinite(weights)) and np.all(np.isfinite(weights.sum()))
    OUTCOMES[("filters.parse_kernel", "parsed")] += 1


def test_huge_weights_are_refused_before_they_overflow():
    with pytest.raises(KernelError, match=r"Row 2, column 3: '1e300' is too large"):
        parse_kernel("0 0 0; 0 0 1e300; 0 0 0")
    np.testing.assert_array_equal(parse_kernel("0 0 0; -1000000 0 1e6; 0 0 0")[1], [-1e6, 0.0, 1e6])


@SETTINGS
@given(
    st.integers(0, 64),
    st.integers(0, 64),
    st.sampled_from(["valid", "same"]),
    st.sampled_from(["max", "avg", "min"]),
    st.integers(1, 40),
    st.integers(1, 40),
)
def test_any_pooling_setting_pools_or_gives_a_clear_error(size, stride, padding, mode, height, width):
    x = np.asarray(Image.fromarray(ITEMS[2]).resize((width, height)), dtype=np.float32) / 255.0
    try:
        pooled = pool2d(x, size=size, stride=stride, mode=mode, padding=padding)
    except PoolError as error:
        assert str(error)
        OUTCOMES[("pooling.pool2d", "PoolError")] += 1
        return
    expected = [(n - size) // stride + 1 if padding == "valid" else -(-n // stride) for n in (height, width)]
    assert pooled.shape == output_shape(height, width, size, stride, padding) == tuple(expected)
    assert np.all(np.isfinite(pooled))
    OUTCOMES[("pooling.pool2d", "pooled")] += 1


LINK_VALUE = st.one_of(st.text(max_size=30), st.integers(-(10**6), 10**6).map(str), st.just("9" * 5000))


# The builder's link parameters as the page documents them, written out: (config field, choices, default).
ARCHITECTURE_LINK = {
    "blocks": ("conv_blocks", ("0", "1", "2", "3", "4", "5", "6"), "2"),
    "filters": ("filters", ("8", "16", "32", "64", "128"), "64"),
    "kernel": ("kernel_size", ("3", "5", "7"), "3"),
    "padding": ("padding", ("valid", "same"), "valid"),
    "pooling": ("pooling", ("max", "avg", "none"), "max"),
    "pool": ("pool_size", ("2", "3"), "2"),
    "dense": ("dense_units", ("0", "32", "64", "128", "256"), "128"),
}
ARCHITECTURE_CHOICE = st.sampled_from(sorted({c for _, choices, _ in ARCHITECTURE_LINK.values() for c in choices}))
ARCHITECTURE_VALUE = st.one_of(
    LINK_VALUE,
    ARCHITECTURE_CHOICE,  # valid values, and near misses that are not: " 64", "64 ", "MAX", "064"
    st.tuples(ARCHITECTURE_CHOICE, st.sampled_from([" {}", "{} ", "0{}", "+{}", "{}.0"])).map(
        lambda v: v[1].format(v[0])
    ),
    ARCHITECTURE_CHOICE.map(str.upper),
)


@SETTINGS
@given(st.dictionaries(st.sampled_from([*ARCHITECTURE_LINK, "x", ""]), ARCHITECTURE_VALUE, max_size=8))
def test_architecture_links_give_a_config_and_name_every_value_ignored(params):
    config, notices = config_from_link(params, COURSE_CNN)
    expected_notices, changes = [], {}
    for name, (field_name, choices, default) in ARCHITECTURE_LINK.items():  # in the page's order
        if name not in params:
            continue
        raw = params[name]
        if raw in choices:
            changes[field_name] = raw if field_name in ("padding", "pooling") else int(raw)
        else:
            expected_notices.append(
                f"The link's {name}={plain_markdown(repr(raw))} was ignored (not one of the choices "
                f"({', '.join(choices)})); using the default, {default}."
            )
    assert list(notices) == expected_notices
    assert config == CNNConfig(**changes)  # the course CNN with the valid values; nothing else changes
    OUTCOMES[("query_state.config_from_link", f"{len(notices)} value(s) ignored with a notice")] += 1
    try:
        plan(config)
        OUTCOMES[("query_state.config_from_link", "config that builds")] += 1
    except ConfigError as error:  # a valid choice of values whose shapes collapse: the page explains it
        assert str(error)
        OUTCOMES[("query_state.config_from_link", "config that collapses (explained)")] += 1


# ---------------------------------------------------------------- the pages, as a learner drives them


def assert_clean(app: AppTest, surface: str) -> str:
    assert not app.exception, [e.message for e in app.exception]
    errors, warnings = [e.value for e in app.error], [w.value for w in app.warning]
    assert all(message.strip() for message in errors + warnings)
    outcome = "st.error shown" if errors else "link notice shown" if any("link" in w for w in warnings) else "worked"
    OUTCOMES[(surface, outcome)] += 1
    return outcome


UPLOAD_PAGES = [("pages/filters.py", "filters"), ("pages/pooling.py", "pooling"), ("pages/predict.py", "predict")]


def shows_result(app: AppTest, page: str) -> bool:
    if page == "pages/filters.py":
        return "4. Original and filtered" in [s.value for s in app.subheader]
    if page == "pages/predict.py":
        return "1. From picture to network input" in [s.value for s in app.subheader]
    return "Output" in [m.label for m in app.metric]


@pytest.mark.parametrize("page,key", [case for case in UPLOAD_PAGES if (ROOT / case[0]).exists()])
def test_page_uploaders_survive_every_hostile_file_in_one_session(page, key):
    app = open_page(page)
    app.radio(key=f"{key}_source").set_value("Upload")
    app.run()
    for name, data, expected in HOSTILE_FILES:
        mime = "image/png" if name.endswith(".png") else "image/jpeg" if name.endswith(".jpg") else "image/gif"
        app.file_uploader(key=f"{key}_upload").set_value((name, data, mime))
        app.run()
        outcome = assert_clean(app, f"{page} uploader")
        if expected == "error":
            assert outcome == "st.error shown", name
            assert not shows_result(app, page), name
        elif expected == "image":
            assert outcome == "worked" and shows_result(app, page), (name, [e.value for e in app.error])
    good = encode(Image.fromarray(ITEMS[0]), "PNG")
    app.file_uploader(key=f"{key}_upload").set_value(("good.png", good, "image/png"))
    app.run()
    assert assert_clean(app, f"{page} uploader") == "worked" and shows_result(app, page)


def test_filters_page_kernel_editor_survives_garbage_then_works():
    app = open_page("pages/filters.py")
    app.radio(key=FILTERS_KERNEL_SOURCE).set_value("Edit your own")
    app.run()
    garbage = [
        "",
        "nan",
        "1e999",
        "1/0",
        "0 0 0; 0 1e300 0; 0 0 0",
        "[[1,2],[3,4]]",
        "1 2 3\n4 5",
        "\n".join(["1 " * 9] * 9),
        "drop table;",
        "\u2212\u2212\u2212",
        "0x10 1 2\n1 2 3\n1 2 3",
        "\x00\x01",
        "1,,,2,3\n;;\n4 5 6",
    ]
    for text in garbage:
        area = next(t for t in app.text_area if t.key.startswith("filters_text_3"))
        area.set_value(text)
        app.run()
        assert assert_clean(app, "pages/filters.py kernel editor") == "st.error shown", text
    area = next(t for t in app.text_area if t.key.startswith("filters_text_3"))
    area.set_value("0 -1 0\n-1 5 -1\n0 -1 0")
    app.run()
    assert assert_clean(app, "pages/filters.py kernel editor") == "worked"
    assert "4. Original and filtered" in [s.value for s in app.subheader]


def test_pooling_number_inputs_survive_edge_values_then_work():
    app = open_page("pages/pooling.py")
    too_large = "Pool size {0}x{0} is larger than the 26x26 input: with 'valid' padding there is no full window"
    expected = {  # on the default 26x26 edge map: the error, or the output floor((26 - size) / stride) + 1 by hand
        (0, 0): ("error", "Pool size must be at least 1 (got 0)"),
        (0, 2): ("error", "Pool size must be at least 1 (got 0)"),
        (64, 1): ("error", too_large.format(64)),
        (1, 64): ("output", "1x1"),
        (27, 1): ("error", too_large.format(27)),
        (26, 26): ("output", "1x1"),
        (13, 0): ("error", "Stride must be at least 1 (got 0)"),
        (1, 1): ("output", "26x26"),
    }
    for (size, stride), (kind, shown) in expected.items():
        app.number_input(key=POOL_SIZE).set_value(size)
        app.number_input(key=POOL_STRIDE).set_value(stride)
        app.run()
        outcome = assert_clean(app, "pages/pooling.py number inputs")
        if kind == "output":
            assert outcome == "worked" and {m.label: m.value for m in app.metric}["Output"] == shown, (size, stride)
        else:
            assert [e.value for e in app.error] == [shown] and not app.metric, (size, stride)
    app.number_input(key=POOL_SIZE).set_value(2)
    app.number_input(key=POOL_STRIDE).set_value(2)
    app.run()
    assert assert_clean(app, "pages/pooling.py number inputs") == "worked"
    assert {m.label: m.value for m in app.metric}["Output"] == "13x13"


def test_pooling_settings_typed_by_the_learner_are_not_blamed_on_the_link():
    app = open_page("pages/pooling.py")
    app.number_input(key=POOL_STRIDE).set_value(0)
    app.run()
    assert [e.value for e in app.error] == ["Stride must be at least 1 (got 0)"]
    app.number_input(key=POOL_STRIDE).set_value(3)
    app.run()
    assert assert_clean(app, "pages/pooling.py number inputs") == "worked", [w.value for w in app.warning]


def link_parameters() -> list[str]:
    """Every query parameter a page reads: the pages' link schemas, the builder's names and ?present=."""
    from components.presentation import PRESENT_PARAM

    names = {PRESENT_PARAM, *QUERY_NAMES.values()}
    for path in [*(ROOT / "pages").glob("*.py"), *(ROOT / "components" / "sections").glob("*.py")]:
        names.update(re.findall(r'"(\w+)": (?:Choice|Integer|Indices)\(', path.read_text()))
    return sorted(names)


LINK_NAMES = link_parameters()
GARBAGE_VALUES = {
    "markup": "<script>alert(1)</script>",
    "negative": "-1",
    "huge": "9" * 5000,
    "superscript": "\u00b2",
    "arabic digit": "\u0661",
    "empty": "",
    "float": "2.5",
    "list": "0,0,0,0,0,0,0,0,9999",
    "null byte": "\u0000",
}


def test_the_link_parameters_are_known():
    """The parameters found in the pages' schemas are exactly those PAGE_LINKS writes out, plus ?present=."""
    assert set(LINK_NAMES) == {"present", *(name for names in PAGE_LINKS.values() for name in names)}


# What each page reads from a link, written out from the pages' documented settings, with what an ignored value
# falls back to (None: the notice says "the page's default"), in the order the page reads them.
PAGE_LINKS: dict[str, dict[str, str | None]] = {
    "Home": {},
    "Class": {},  # its one link value, ?join=CODE, is a class code checked as one (tests/app/test_class_page.py)
    "Week 3 tour": {"step": "1"},
    "Filters": {"sample": None, "kernel": "Sobel: vertical edges", "filter": None, "dilation": "1"},
    "Pooling": {"sample": None, "size": "2", "stride": "2", "mode": "max"},
    "Architecture": {
        "blocks": "2",
        "filters": "64",
        "kernel": "3",
        "padding": "valid",
        "pooling": "max",
        "pool": "2",
        "dense": "128",
    },
    "Training": {
        "model": "course",
        "images": "20000",
        "epochs": "5",
        "batch": "32",
        "optimizer": "adam",
        "lr": "0.001",
        "seed": "0",
        "shift": "0",
        "rotate": "0",
        "zoom": "0",
        "flip": "0",
        "dropout": "0.0",
        "l2": "0.0",
        "early": "0",
    },
    "Inspect": {"tab": "maps", "images": "0,23,28"},
    "Predict": {},
    "Deeper": {"tab": "channels", "image": "0"},
}
# The settings each page then shows when nothing in the link is usable: its defaults, as the widgets hold them.
DEFAULT_SETTINGS: dict[str, dict[str, object]] = {
    "Home": {},
    "Class": {},
    "Week 3 tour": {"step": "1"},
    "Filters": {"sample": "Street scene", "kernel": "Sobel: vertical edges", "dilation": 1},
    "Pooling": {"sample": "Fashion-MNIST: Ankle boot", "size": 2, "stride": 2, "mode": "max"},
    "Architecture": {
        "conv_blocks": 2,
        "filters": 64,
        "kernel_size": 3,
        "padding": "valid",
        "pooling": "max",
        "pool_size": 2,
        "dense_units": 128,
    },
    "Training": {
        "model": "Course CNN",
        "images": 20_000,
        "epochs": 5,
        "batch": 32,
        "optimizer": "adam",
        "lr": 0.001,
        "seed": 0,
        "shift": False,
        "rotate": False,
        "zoom": False,
        "flip": False,
        "dropout": 0.0,
        "l2": 0.0,
        "early": False,
    },
    "Inspect": {"tab": "Feature maps", "images": "Course trio"},
    "Predict": {},
    "Deeper": {"tab": "Channel sum", "image": 0},
}
# One garbage value is a valid whole number: int() reads the Arabic-Indic digit one as 1. In the first round it lands
# on ?dropout=, ?l2= and ?rotate=, all choices, so every page ignores it; in the second on ?batch=, ?flip=, ?padding=
# (choices, ignored) and the tour's ?step=, which reads it as step 1, its default.
LINKED_AFTER_ALL = [set(), {"step"}]
USED_AFTER_ALL: list[dict[str, dict[str, object]]] = [{}, {}]


def shown_settings(app: AppTest, title: str) -> dict[str, object]:
    """The settings the page shows a learner: its widgets' values (the tour: the step in its header)."""
    if title == "Week 3 tour":
        return {"step": app.header[0].value.split(".")[0]}
    if title == "Filters":
        if app.radio(key=FILTERS_KERNEL_SOURCE).value == "Learned by the network":
            kernel = f"learned filter {app.selectbox(key=FILTERS_LEARNED_INDEX).value}"
        else:
            kernel = app.selectbox(key=FILTERS_LIBRARY).value
        return {
            "sample": app.selectbox(key="filters_sample").value,
            "kernel": kernel,
            "dilation": app.select_slider(key=FILTERS_DILATION).value,
        }
    if title == "Pooling":
        return {
            "sample": app.selectbox(key="pooling_sample").value,
            "size": app.number_input(key=POOL_SIZE).value,
            "stride": app.number_input(key=POOL_STRIDE).value,
            "mode": app.radio(key=POOL_MODE).value,
        }
    if title == "Architecture":
        builder = {w.key: w.value for w in [*app.select_slider, *app.radio] if w.key.startswith("architecture_")}
        return {field: builder[f"architecture_{field}"] for field in DEFAULT_SETTINGS["Architecture"]}
    if title == "Training":
        widgets = {
            w.key: w.value for w in [*app.selectbox, *app.select_slider, *app.slider, *app.number_input, *app.toggle]
        }
        return {name: widgets[f"training_{name}"] for name in DEFAULT_SETTINGS["Training"]}
    if title == "Inspect":
        return {"tab": app.session_state[INSPECT_TAB], "images": app.radio(key=INSPECT_SOURCE).value}
    if title == "Deeper":
        return {"tab": app.session_state[DEEPER_TAB], "image": app.number_input(key=DEEPER_INDEX).value}
    return {}


@pytest.mark.parametrize("spec", ALL_PAGES, ids=lambda spec: spec.title)
def test_every_page_survives_hand_edited_links(spec):
    """Every parameter any page reads set to garbage (a different kind per parameter, rotated), plus unknown ones:
    each value the page reads is named in a link-off warning, and the page shows its defaults."""
    garbage = list(GARBAGE_VALUES.values())
    for turn in range(2):
        query = {name: garbage[(i + 4 * turn) % len(garbage)] for i, name in enumerate(LINK_NAMES)}
        app = open_page(spec.path, **query, page="../../etc/passwd", **{"x" * 200: "y"})
        assert assert_clean(app, "hand-edited link (every page)") != "st.error shown", [e.value for e in app.error]
        assert all(query[name] == GARBAGE_VALUES["arabic digit"] for name in LINKED_AFTER_ALL[turn])
        ignored = [
            (name, fallback) for name, fallback in PAGE_LINKS[spec.title].items() if name not in LINKED_AFTER_ALL[turn]
        ]
        warnings = list(app.warning)
        assert len(warnings) == len(ignored), [w.value for w in warnings]
        for warning, (name, fallback) in zip(warnings, ignored):
            shown = f"The link's {name}={plain_markdown(repr(query[name]))} was ignored ("  # shown literally
            assert warning.value.startswith(shown), warning.value
            assert warning.value.endswith(
                "; using the page's default." if fallback is None else f"; using the default, {fallback}."
            ), warning.value
            assert warning.proto.icon == ":material/link_off:"
        expected = {**DEFAULT_SETTINGS[spec.title], **USED_AFTER_ALL[turn].get(spec.title, {})}
        assert shown_settings(app, spec.title) == expected


@pytest.mark.parametrize(
    "value, shown, reason",  # shown: the learned filter the page opens on; reason: why the link's value is ignored
    [
        ("99999", None, "outside 0-63"),
        ("0000", 0, None),
        ("-3", None, "outside 0-63"),
        ("\u0661", 1, None),  # int() reads the Arabic-Indic digit one
        (" 7", 7, None),
        ("9" * 5000, None, "not a whole number"),
        ("\u00b2", None, "not a whole number"),
        ("1e2", None, "not a whole number"),
        ("0x1", None, "not a whole number"),
    ],
    ids=["too-big", "zeros", "negative", "arabic-one", "space", "huge", "superscript", "exponent", "hex"],
)
def test_filters_page_survives_odd_filter_numbers_in_the_link(value, shown, reason):
    app = open_page("pages/filters.py", filter=value)
    assert_clean(app, "pages/filters.py ?filter=")
    if shown is None:  # ignored with a notice: the page opens on its default library kernel
        assert [w.value for w in app.warning] == [
            f"The link's filter={value!r} was ignored ({reason}); using the page's default."
        ]
        assert app.radio(key=FILTERS_KERNEL_SOURCE).value == "Library"
        assert app.selectbox(key=FILTERS_LIBRARY).value == "Sobel: vertical edges"
        assert "filter" not in app.query_params and app.query_params["kernel"] == "Sobel: vertical edges"
    else:  # a number 0-63: that learned filter, and the link rewritten plainly
        assert not app.warning, [w.value for w in app.warning]
        assert app.radio(key=FILTERS_KERNEL_SOURCE).value == "Learned by the network"
        assert app.selectbox(key=FILTERS_LEARNED_INDEX).value == shown
        assert app.query_params["filter"] == str(shown)


def whole(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def expected_link(params: dict[str, str]) -> tuple[dict, set[str], list[tuple[str, str]]]:
    """The test schema's settings worked out by hand from its stated rules: (values, names linked, (name, default)
    of each value ignored, in the schema's order)."""
    values, linked, ignored = {"tab": "maps", "images": (0, 1), "size": 2}, set(), []
    if "tab" in params:
        if params["tab"] in ("maps", "filters"):
            values["tab"] = params["tab"]
            linked.add("tab")
        else:
            ignored.append(("tab", "maps"))
    if "images" in params:
        parts = [part.strip() for part in params["images"].split(",") if part.strip()]
        numbers = [whole(part) if part.isdigit() else None for part in parts]  # no signs, no decimals
        if 1 <= len(parts) <= 6 and None not in numbers and max(numbers) < 10_000:
            values["images"] = tuple(dict.fromkeys(numbers))  # repeats dropped, order kept
            linked.add("images")
        else:
            ignored.append(("images", "0,1"))
    if "size" in params:
        size = whole(params["size"])
        if size is not None and 1 <= size <= 64:
            values["size"] = size
            linked.add("size")
        else:
            ignored.append(("size", "2"))
    return values, linked, ignored


SCHEMA_VALUE = st.one_of(
    LINK_VALUE,
    st.sampled_from(["maps", "filters", " maps", "Maps"]),
    st.lists(st.integers(-2, 10_001).map(str), max_size=8).map(", ".join),  # index lists, some too long or large
    st.lists(st.sampled_from(["0", "3", "9999", "10000"]), min_size=1, max_size=7).map(",".join),  # repeats, edges
    st.integers(-2, 70).map(str),
)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["tab", "images", "size", "x"]), SCHEMA_VALUE, max_size=4))
def test_link_schemas_give_valid_settings_or_notices(params):
    from components.framework.query_state import Choice, Indices, Integer, read_link

    schema = {
        "tab": Choice(("maps", "filters"), "maps"),
        "images": Indices(10_000, 6, (0, 1)),
        "size": Integer(1, 64, 2),
    }
    link = read_link(params, schema)
    values, linked, ignored = expected_link(params)
    assert link.values == values and link.linked == linked
    assert len(link.notices) == len(ignored)
    for notice, (name, default) in zip(link.notices, ignored):
        assert notice.startswith(
            f"The link's {name}={plain_markdown(repr(params[name]))} was ignored ("
        ) and notice.endswith(f"; using the default, {default}."), notice
    OUTCOMES[("query_state.read_link", f"{len(link.notices)} notices")] += 1


def test_architecture_page_explains_a_bad_link_then_the_builder_works():
    app = open_page("pages/architecture.py", blocks="99", kernel="banana", filters="16")
    assert assert_clean(app, "pages/architecture.py link") == "link notice shown"
    assert [w.value for w in app.warning if "blocks='99'" in w.value or "kernel='banana'" in w.value]
    assert app.session_state["architecture_filters"] == 16  # the valid part of the link is kept
    app.sidebar.button[0].click().run()  # Reset to the course CNN
    assert assert_clean(app, "pages/architecture.py link") == "worked"
    assert app.session_state["architecture_filters"] == 64


def test_a_hand_edited_link_value_is_shown_literally_not_as_markdown():
    """A value that would be a link, bold text, HTML, an emoji or LaTeX is escaped inside the app's own warning."""
    value = "**x** [click](http://evil.example) <b>:smile: $x^2$"
    app = open_page("pages/pooling.py", mode=value)
    (warning,) = [w.value for w in app.warning]
    assert "\\*\\*x\\*\\* \\[click\\](http\\:\u200b//evil.example) \\<b\\>\\:smile\\: \\$x^2\\$" in warning
