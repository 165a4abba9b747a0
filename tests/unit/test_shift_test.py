"""The translation test: shifting against SciPy, a few points recomputed with Keras, the shipped numbers."""

import json

import numpy as np
import pytest
from scipy import ndimage

from models.design.card import (
    DENSE_CARD,
    DENSE_MODEL,
    MODEL_CARD,
    SHIFT_TEST,
    SHIPPED_MODEL,
    ModelFileError,
    read_model_card,
    read_shift_test,
)
from models.explain.shift_test import DIRECTIONS, shift_accuracy, shift_images
from models.networks.zoo import load_model_file


@pytest.mark.parametrize("rows, columns", [(0, 0), (0, 3), (0, -6), (2, 0), (-5, 0), (3, -4), (28, 0), (0, -30)])
def test_shifting_moves_pixels_and_fills_with_zeros_as_scipy_does(rows, columns):
    images = np.random.default_rng(0).integers(1, 256, size=(3, 28, 28), dtype=np.uint8)
    expected = ndimage.shift(images, (0, rows, columns), order=0, mode="constant", cval=0)
    assert np.array_equal(shift_images(images, rows, columns), expected)


@pytest.mark.parametrize("path", [SHIPPED_MODEL, DENSE_MODEL], ids=["cnn", "dense"])
def test_a_few_points_on_the_first_1000_test_images_equal_a_direct_prediction(fashion, path):
    _, (x_test, y_test) = fashion
    images, labels = x_test[:1000], y_test[:1000]
    model = load_model_file(path)
    result = shift_accuracy(model, images, labels, shifts=(0, 3))

    def direct(rows: int, columns: int) -> float:
        moved = ndimage.shift(images, (0, rows, columns), order=0, mode="constant", cval=0)
        scores = model(moved.astype(np.float32)[..., None] / 255.0, training=False).numpy()
        return float(np.mean(scores.argmax(axis=1) == labels))

    for name, (rows, columns) in DIRECTIONS.items():
        assert result[name] == [direct(0, 0), direct(3 * rows, 3 * columns)]
    assert result["mean"][1] == pytest.approx(np.mean([result[name][1] for name in DIRECTIONS]))


def test_the_shipped_numbers_belong_to_the_shipped_models_and_their_cards():
    record = read_shift_test()  # checks both files' SHA-256
    assert record["shifts"] == list(range(7)) and record["test_images"] == 10_000
    for key, card in (("cnn", MODEL_CARD), ("dense", DENSE_CARD)):
        numbers = record["models"][key]
        unmoved = {numbers[name][0] for name in DIRECTIONS}
        assert unmoved == {numbers["mean"][0]}  # shift 0 is one evaluation
        assert numbers["mean"][0] == pytest.approx(read_model_card(card)["test_accuracy"], abs=5e-5)
        assert numbers["mean"] == pytest.approx([np.mean([numbers[d][i] for d in DIRECTIONS]) for i in range(7)])
    cnn, dense = record["models"]["cnn"]["mean"], record["models"]["dense"]["mean"]
    assert all(c > d for c, d in zip(cnn, dense))


def test_numbers_from_other_model_files_are_refused(tmp_path):
    record = json.loads(SHIFT_TEST.read_text())
    record["models"]["dense"]["sha256"] = "0" * 64
    stale = tmp_path / "shift_test.json"
    stale.write_text(json.dumps(record))
    with pytest.raises(
        ModelFileError, match="computed from another fashion_dnn.keras.*python -m models.explain.shift_test"
    ):
        read_shift_test(stale)
    with pytest.raises(ModelFileError, match="missing or unreadable.*python -m models.explain.shift_test"):
        read_shift_test(tmp_path / "absent.json")
