"""Fuzzing the own-images upload: random bytes and mutated real zips give a dataset or a DatasetError, never
another exception, and nothing is written. Reuses tests/app/test_bad_input.py's mutations and settings."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from models.inputs import own_data as od
from tests.app.test_bad_input import MUTATIONS, OUTCOMES, SETTINGS, mutate
from tests.support.image_files import encoded, header_only_png, real_items, zip_of

SMALL = {
    f"{name}/{i}.{kind}": encoded(item, kind)
    for name in ("Bag", "Sneaker")
    for i, item in enumerate(real_items(name, od.MIN_PER_CLASS))
    for kind in ("png",)
}
SEED_ZIPS = {"deflated": zip_of(SMALL), "stored": zip_of(SMALL, compression=0)}


def try_read(surface: str, data: bytes) -> None:
    before = set(Path.cwd().iterdir())
    try:
        dataset = od.read_zip(data)
    except od.DatasetError as error:
        assert str(error).strip() and "Traceback" not in str(error)
        OUTCOMES[(surface, "refused: " + str(error).split(":")[0][:40])] += 1
    else:
        assert dataset.images.dtype == np.uint8 and dataset.images.shape[1:] == (28, 28)
        assert len(dataset.labels) == len(dataset.images) == len(dataset.files)
        assert od.MIN_CLASSES <= len(dataset.class_names) <= od.MAX_CLASSES
        assert min(dataset.counts) >= od.MIN_PER_CLASS
        OUTCOMES[(surface, "read")] += 1
    assert set(Path.cwd().iterdir()) == before


@SETTINGS
@given(st.sampled_from(sorted(SEED_ZIPS)), st.lists(MUTATIONS, min_size=1, max_size=4))
def test_mutated_real_zips_are_read_or_refused_clearly(seed, mutations):
    try_read(f"read_zip (mutated {seed})", mutate(SEED_ZIPS[seed], mutations))


@SETTINGS
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_refused_clearly(data):
    try_read("read_zip (arbitrary bytes)", data)


@SETTINGS
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=30).filter(lambda name: name[0] != "\x00"),  # zipfile cuts a name at a NUL
        st.sampled_from([b"", b"x", SMALL["Bag/0.png"]]),
        max_size=8,
    )
)
def test_any_member_names_are_read_or_refused_clearly(members):
    try_read("read_zip (odd names)", zip_of(members))


@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(1, 300)), min_size=2, max_size=30))
def test_declared_pixels_stop_an_upload_or_name_each_image_over_the_limit(sizes):
    """Images whose headers declare these sizes (their data never decodes): the zip is stopped at the first image
    that takes the declared sum past the per-upload budget, else each image over the per-image budget is named."""
    per_image, per_upload = 40_000, 200_000
    members = {f"{'ab'[i % 2]}/{i:03d}.png": header_only_png(w, h) for i, (w, h) in enumerate(sizes)}
    order = sorted(members, key=lambda path: (path[0], path))  # class a, then b; by name
    size_of = {f"{'ab'[i % 2]}/{i:03d}.png": (w, h) for i, (w, h) in enumerate(sizes)}
    total, stop = 0, None
    for path in order:
        w, h = size_of[path]
        if w * h <= per_image:
            total += w * h
            if total > per_upload:
                stop = path
                break
    with patch.object(od, "MAX_PIXELS", per_image), patch.object(od, "MAX_UPLOAD_PIXELS", per_upload):
        try:
            od.read_zip(zip_of(members))
        except od.DatasetError as error:
            message = str(error)
        else:
            raise AssertionError("no image here can be decoded: the zip cannot make a dataset")
    if stop is not None:
        assert f"Stopped at {stop!r}" in message and f"{size_of[stop][1]}x{size_of[stop][0]}" in message
        OUTCOMES[("read_zip (declared sizes)", "stopped by the per-upload budget")] += 1
        return
    assert "Stopped at" not in message
    over = [path for path in order if size_of[path][0] * size_of[path][1] > per_image]
    for path in over[:5]:  # the messages quote the first five names
        w, h = size_of[path]
        assert f"{path!r} ({h}x{w})" in message
    OUTCOMES[("read_zip (declared sizes)", "too large named" if over else "refused otherwise")] += 1
