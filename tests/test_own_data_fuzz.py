"""Fuzzing the own-images upload: random bytes and mutated real zips give a dataset or a DatasetError, never
another exception, and nothing is written. Reuses tests/test_bad_input.py's mutations and settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from models import own_data as od
from tests.test_bad_input import MUTATIONS, OUTCOMES, SETTINGS, mutate
from tests.test_own_data import encoded, real_items, zip_of

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
