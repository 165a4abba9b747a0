"""models.inputs.own_data's side of the dataset builder: class names checked as the zip reader would read them back,
examples assembled under the zip path's limits and messages, single files through Predict's pipeline. The fuzz
cases reuse tests/app/test_bad_input.py's mutations and settings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.inputs import own_data as od
from models.inputs.images import ImageError, load_image
from models.inputs.preprocess import PreprocessError, preprocess
from tests.app.test_bad_input import MUTATIONS, OUTCOMES, SETTINGS, mutate
from tests.support.image_files import encoded, real_items, zip_of

ITEMS = {
    name: [preprocess(load_image(encoded(item, "png"))).pixels for item in real_items(name, 12)]
    for name in ("Bag", "Sneaker", "Trouser")
}


def test_examples_become_the_dataset_a_zip_of_them_reads_back_as():
    dataset = od.from_examples(
        ["Trouser", "bag", "Sneaker"], [ITEMS["Trouser"], ITEMS["Bag"][:10], ITEMS["Sneaker"]], "mine"
    )
    assert dataset.class_names == ("bag", "Sneaker", "Trouser")  # read_zip's order: by name, ignoring case
    assert dataset.counts == (10, 12, 12)
    np.testing.assert_array_equal(dataset.images, np.stack([*ITEMS["Bag"][:10], *ITEMS["Sneaker"], *ITEMS["Trouser"]]))
    assert dataset.files[:2] == ("bag/0000.png", "bag/0001.png")
    again = od.read_zip(od.to_zip(dataset))
    assert again.class_names == dataset.class_names and again.counts == dataset.counts
    np.testing.assert_array_equal(again.labels, dataset.labels)


def test_too_few_gives_the_zip_readers_message():
    members = {
        f"{name}/{i}.png": encoded(item, "png")
        for name, count in (("Bag", 9), ("Sneaker", 10))
        for i, item in enumerate(real_items(name, count))
    }
    with pytest.raises(od.DatasetError) as from_zip:
        od.read_zip(zip_of(members))
    with pytest.raises(od.DatasetError) as built:
        od.from_examples(["Bag", "Sneaker"], [ITEMS["Bag"][:9], ITEMS["Sneaker"][:10]], "mine")
    assert (
        str(built.value) == str(from_zip.value) == "Too few usable images in 'Bag' (9): each class needs at least 10."
    )


def test_the_image_limit_and_the_class_count_are_the_zip_paths():
    blank = np.zeros((28, 28), np.uint8)
    with pytest.raises(od.DatasetError, match=r"^The dataset holds 2,001 images; the limit is 2,000\.$"):
        od.from_examples(["a", "b"], [[blank] * 1001, [blank] * 1000], "mine")
    with pytest.raises(od.DatasetError, match="Name 2 to 10 classes, not 1"):
        od.from_examples(["a"], [[blank] * 10], "mine")
    with pytest.raises(od.DatasetError, match="not uint8 28x28"):
        od.from_examples(["a", "b"], [[blank] * 10, [np.zeros((28, 27), np.uint8)] * 10], "mine")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Class 2 has no name: type one."),
        ("  ", "Class 2 has no name: type one."),
        ("x" * 41, "Class 2's name is 41 characters long; the limit is 40."),
        ("a/b", "'a/b' holds /: a class name becomes a folder name in the zip"),
        ("a\\b", "'a\\\\b' holds \\:"),
        ("C:x", "'C:x' holds :"),
        ("why?", "'why?' holds ?"),
        ("a\x07b", "Class 2's name holds a control character: type it again without."),
        ("..", "'..' cannot be a folder name in the zip"),
        (".", "'.' cannot be a folder name in the zip"),
        ("__MACOSX", "'__MACOSX' cannot be a folder name"),
        ("._hidden", "'._hidden' cannot be a folder name"),
        ("BAG", "Classes 1 and 2 are both named 'BAG' (apart from case): name each once."),
    ],
)
def test_each_bad_name_is_named(name, message):
    problems = od.class_name_problems(["bag", name])
    assert len(problems) == 1 and problems[0].startswith(message), problems


NAME_CHARACTERS = st.characters(blacklist_categories=("Cc", "Cs"))  # control characters: the table above


def test_spaces_are_tidied_as_a_folders_name_is():
    assert od.class_name_problems(["a  \tb", " c "]) == []
    assert od.class_name_problems(["a b", "a \t b"]) == [
        "Classes 1 and 2 are both named 'a b' (apart from case): name each once."
    ]


@settings(SETTINGS, max_examples=60)
@given(st.lists(st.text(NAME_CHARACTERS, min_size=1, max_size=12), min_size=2, max_size=3, unique_by=str.casefold))
def test_any_names_are_refused_in_words_or_read_back_from_the_zip(names):
    """The one validator: names it accepts are exactly the class names read_zip finds in the zip of the dataset."""
    problems = od.class_name_problems(names)
    if problems:
        assert all(p.strip() and p.endswith(".") for p in problems)
        OUTCOMES[("builder names", "refused")] += 1
        return
    dataset = od.from_examples(names, [ITEMS["Bag"][:10]] * len(names), "fuzz")
    again = od.read_zip(od.to_zip(dataset))
    assert again.class_names == dataset.class_names
    assert sorted(n.casefold() for n in dataset.class_names) == sorted(" ".join(n.split()).casefold() for n in names)
    OUTCOMES[("builder names", "read back")] += 1


SEED = encoded(real_items("Bag", 1)[0], "png")


@SETTINGS
@given(st.lists(MUTATIONS, min_size=1, max_size=4))
def test_a_mutated_single_image_is_prepared_or_refused_clearly(mutations):
    try:
        prepared = od.prepare(mutate(SEED, mutations))
    except (ImageError, PreprocessError) as error:
        assert str(error).strip()
        OUTCOMES[("builder single image", "refused: " + type(error).__name__)] += 1
    else:
        assert prepared.pixels.dtype == np.uint8 and prepared.pixels.shape == (28, 28)
        OUTCOMES[("builder single image", "prepared")] += 1
