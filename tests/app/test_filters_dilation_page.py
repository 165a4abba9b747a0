"""The Filters page's dilation (issue 18, item 2) under AppTest: the control, its link, the shape formula, the
step-by-step taps, and the numbers against Keras Conv2D(dilation_rate=d)."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from PIL import Image

from components.framework.session_keys import FILTERS_ALL_RESPONSES, FILTERS_DILATION, FILTERS_PADDING, FILTERS_STRIDE
from components.image_picker import COLOUR_MODES
from models.inputs.samples import load_sample
from models.ops.kernels import KERNELS
from tests.support.apptest import figures, open_page

PAGE = "pages/filters.py"
SOBEL = KERNELS["Sobel: vertical edges"].weights


def filters_page(**query: str):
    return open_page(PAGE, timeout=60, **query)


def keras_conv(image: np.ndarray, kernel: np.ndarray, dilation: int, padding: str) -> np.ndarray:
    """One Keras Conv2D filter (no bias) with dilation_rate=dilation: a k x k kernel on a 2-D image, or the same
    k x k weights on each channel of an RGB one, summed over the channels as Conv2D does."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    layer = keras.layers.Conv2D(1, kernel.shape, padding=padding, dilation_rate=dilation, use_bias=False)
    layer.build((None, None, None, channels))
    layer.set_weights([np.repeat(kernel[:, :, None, None], channels, axis=2)])
    pixels = image[None, :, :, None] if image.ndim == 2 else image[None]
    return np.asarray(layer(pixels))[0, :, :, 0]


def raw_range(app) -> str:
    """The caption's sentence giving the output's range (after the note on RGB's sum, if any)."""
    caption = next(c.value for c in app.caption if "Raw output from" in c.value)
    return caption[caption.index("Raw output from") :]


def settings_caption(app) -> str:
    return next(c.value for c in app.caption if "taps" in c.value)


def formula_text(app) -> str:
    return next(m.value for m in app.markdown if m.value.startswith("**Shape arithmetic**"))


def test_a_dilation_link_opens_the_control_formula_and_keras_numbers():
    street = load_sample("Street scene", grayscale=True)
    app = filters_page(dilation="2")
    assert [s.value for s in app.subheader][2] == "3. Stride, dilation and padding"
    assert not app.warning
    assert app.select_slider(key=FILTERS_DILATION).value == 2
    assert app.select_slider(key=FILTERS_STRIDE).disabled and app.select_slider(key=FILTERS_STRIDE).value == 1
    assert app.code[0].value == (
        "valid: height (256 - 2\u00d7(3 - 1) - 1) / 1 + 1 = 252; width (384 - 2\u00d7(3 - 1) - 1) / 1 + 1 = 380 "
        "\u2192 output 252 x 380"
    )
    assert "dilation 2: out = floor((H + P - d(k - 1) - 1) / stride) + 1" in formula_text(app)
    expected = keras_conv(street, SOBEL, 2, "valid")
    assert expected.shape == (252, 380)
    assert raw_range(app).startswith(f"Raw output from {expected.min():.3f} to {expected.max():.3f}.")
    caption = settings_caption(app)
    assert caption.startswith("Dilation 2: the 3x3 kernel's 9 taps sit 2 pixels apart, so it sees a 5x5 area")
    assert "with the same 9 weights" in caption
    assert "Stride is held at 1: Keras's Conv2D refuses a stride above 1 together with a dilation above 1" in caption
    assert app.query_params["dilation"] == "2"


def test_the_step_by_step_pixel_reads_taps_d_apart_and_draws_them():
    street = load_sample("Street scene", grayscale=True)
    app = filters_page(dilation="3")
    app.radio(key=FILTERS_PADDING).set_value("same").run()
    app.slider(key="filters_step_row_256").set_value(0).run()
    app.slider(key="filters_step_col_384").set_value(40).run()
    assert not app.exception
    expected = keras_conv(street, SOBEL, 3, "same")
    words = next(m.value for m in app.markdown if m.value.startswith("The sum of the 9 products"))
    assert f"is **{float(expected[0, 40]):.4f}**" in words
    # 'same' at dilation 3 pads 3 rows above: the first tap row is -3, in the padding.
    assert "input row -3, column 37 (negative: it starts in the zero padding)." in words
    assert "they read input rows -3, 0, 3 and columns 37, 40, 43" in words
    window = next(f for f in figures(app) if "taps sit" in f["layout"].get("title", {}).get("text", ""))
    assert window["layout"]["title"]["text"] == "Where the 9 taps sit (3 apart)"
    titles = [a["text"] for f in figures(app) for a in f["layout"].get("annotations", [])]
    assert "Pixels at the taps" in titles and "Input patch" not in titles
    shapes = window["layout"]["shapes"]
    assert len(shapes) == 10  # the 7 x 7 window (dotted) and one square per tap
    assert (shapes[0]["x0"], shapes[0]["x1"], shapes[0]["y0"], shapes[0]["y1"]) == (36.5, 43.5, -3.5, 3.5)
    centres = sorted(((s["y0"] + s["y1"]) / 2, (s["x0"] + s["x1"]) / 2) for s in shapes[1:])
    assert centres == [(r, c) for r in (-3, 0, 3) for c in (37, 40, 43)]
    assert app.code[0].value.startswith(
        "same: height ceil(256 / 1) = 256 (padding 3\u00d7(3 - 1) = 6: 3 top, 3 bottom)"
    )


def test_changing_dilation_follows_in_the_link_and_stride_then_holds_dilation_at_one():
    app = filters_page()
    assert app.select_slider(key=FILTERS_DILATION).value == 1 and "dilation" not in app.query_params
    assert settings_caption(app).startswith("Dilation spreads the kernel's taps apart: at dilation 2 a 3x3 kernel")
    app.select_slider(key=FILTERS_DILATION).set_value(4).run()
    assert app.query_params["dilation"] == "4"
    app.select_slider(key=FILTERS_DILATION).set_value(1).run()
    assert "dilation" not in app.query_params
    app.select_slider(key=FILTERS_STRIDE).set_value(2).run()
    assert app.select_slider(key=FILTERS_DILATION).disabled
    assert "Dilation is held at 1: Keras's Conv2D refuses" in settings_caption(app)
    assert "Set stride to 1 to use dilation." in settings_caption(app)


@pytest.mark.parametrize(
    "value,reason", [("0", "outside 1-4"), ("x", "not a whole number"), ("5", "outside 1-4"), ("2.5", "not a whole")]
)
def test_a_bad_dilation_in_the_link_warns_and_falls_back_to_1(value, reason):
    app = filters_page(dilation=value)
    (warning,) = [w.value for w in app.warning]
    assert warning.startswith(f"The link's dilation='{value}' was ignored ({reason}")
    assert warning.endswith("using the default, 1.")
    assert app.select_slider(key=FILTERS_DILATION).value == 1
    assert "dilation" not in app.query_params
    assert app.code[0].value.startswith("valid: height (256 - 3) / 1 + 1 = 254")


def test_a_colour_picture_with_dilation_is_one_keras_conv2d_filter():
    street = load_sample("Street scene", grayscale=False)
    app = filters_page(dilation="2")
    app.radio(key="filters_mode").set_value(COLOUR_MODES[1]).run()
    app.radio(key=FILTERS_PADDING).set_value("same").run()
    assert not app.exception
    expected = keras_conv(street, SOBEL, 2, "same")
    assert expected.shape == (256, 384)
    assert raw_range(app).startswith(f"Raw output from {expected.min():.3f} to {expected.max():.3f}.")


def test_a_dilated_kernel_wider_than_the_picture_says_so_and_same_still_works():
    buffer = io.BytesIO()
    Image.fromarray(np.tile(np.uint8([0, 255]), (8, 4))).save(buffer, format="PNG")  # 8 x 8 stripes
    app = filters_page(dilation="4")
    app.radio(key="filters_source").set_value("Upload").run()
    app.file_uploader(key="filters_upload").set_value(("stripes.png", buffer.getvalue(), "image/png")).run()
    assert not app.exception
    (error,) = [e.value for e in app.error]
    assert error.startswith("The 3-pixel kernel height at dilation 4 spans 9 pixels and is larger than the 8-pixel")
    assert "4. Original and filtered" not in [s.value for s in app.subheader]
    app.radio(key=FILTERS_PADDING).set_value("same").run()
    assert not app.error
    assert app.code[0].value.startswith(
        "same: ceil(8 / 1) = 8 (padding 4\u00d7(3 - 1) = 8: 4 top/left, 4 bottom/right)"
    )


def test_all_64_responses_on_a_thin_picture_say_the_reduced_copy_is_too_thin():
    buffer = io.BytesIO()
    Image.fromarray(np.tile(np.uint8([0, 255]), (1200, 10))).save(buffer, format="PNG")  # 1200 x 20 stripes
    app = filters_page(dilation="4", filter="3")
    app.radio(key="filters_source").set_value("Upload").run()
    app.file_uploader(key="filters_upload").set_value(("thin.png", buffer.getvalue(), "image/png")).run()
    assert not app.error  # the working copy (1024 x 17) is wide enough for a 9-pixel window
    app.toggle(key=FILTERS_ALL_RESPONSES).set_value(True).run()
    assert not app.exception
    (info,) = [i.value for i in app.info if i.value.startswith("On the copy")]
    assert info.startswith("On the copy reduced to 64 x 2 for this view: The 3-pixel kernel width at dilation 4")
