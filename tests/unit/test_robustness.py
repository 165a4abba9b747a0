"""Robustness curves: each point against the corruption written out here with NumPy/SciPy and model.predict; the
shipped numbers belong to the shipped models and a few of them recompute exactly; stale numbers are refused."""

import json
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from models.design.card import DENSE_MODEL, SHIPPED_MODEL, ModelFileError
from models.explain import robustness as rb
from models.networks.zoo import load_model_file


def direct_accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    scores = model.predict(images[..., None], verbose=0)
    return float(np.mean(scores.argmax(axis=1) == labels))


def per_image_draws(index: int) -> tuple[np.ndarray, np.ndarray]:
    """Test image `index`'s noise and square position, as the module's docstring states them."""
    rng = np.random.default_rng([0, index])
    return rng.standard_normal((28, 28), dtype=np.float32), rng.random(2)


def noisy(images, indices, sigma):
    return np.stack([np.clip(x + np.float32(sigma) * per_image_draws(i)[0], 0, 1) for x, i in zip(images, indices)])


def shifted(images, rows, columns):
    return ndimage.shift(images, (0, rows, columns), order=0, mode="constant", cval=0.0)


def rotated(images, degrees):
    """Each image turned anticlockwise (as drawn) by `degrees`, one 2-D scipy.ndimage.rotate at a time."""
    return np.stack([ndimage.rotate(x, degrees, reshape=False, order=1, mode="constant", cval=0.0) for x in images])


def occluded(images, indices, side):
    out = images.copy()
    for x, i in zip(out, indices):
        u = per_image_draws(i)[1]
        top, left = int(u[0] * (28 - side + 1)), int(u[1] * (28 - side + 1))
        x[top : top + side, left : left + side] = 0.5
    return out


def independent_point(model, name, level, x, labels, indices) -> float:
    """One curve point computed here: the corruption written out, model.predict, averaged over the directions."""
    if name == "noise":
        batches = [noisy(x, indices, level)]
    elif name == "shift":
        batches = [shifted(x, r * level, c * level) for r, c in ((0, 1), (0, -1), (1, 0), (-1, 0))]
    elif name == "rotation":
        batches = [rotated(x, level), rotated(x, -level)]
    else:
        batches = [occluded(x, indices, level)]
    return float(np.mean([direct_accuracy(model, b, labels) for b in batches]))


def test_the_subset_is_the_first_100_of_each_class(fashion):
    _, (_, y_test) = fashion
    indices = rb.subset_indices(y_test)
    assert len(indices) == 1000 and np.all(np.diff(indices) > 0)
    assert np.array_equal(np.bincount(y_test[indices]), [100] * 10)
    for c in range(10):
        assert np.array_equal(indices[y_test[indices] == c], np.flatnonzero(y_test == c)[:100])


def test_rotation_turns_anticlockwise_as_drawn_and_the_square_stays_inside():
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 2, 13:15] = 1.0  # a mark at the top centre
    turned = rb.variants("rotation", 90, image, np.zeros_like(image), np.zeros((1, 2)))[0][0]
    assert turned[:, :5].sum() > 1.5 and turned[:, 23:].sum() == 0  # now on the left side
    corners = np.array([[0.0, 0.999999], [0.999999, 0.0]])
    squares = rb.occlude(np.zeros((2, 28, 28), np.float32), 20, corners)
    assert np.array_equal((squares == 0.5).sum(axis=(1, 2)), [400, 400])
    assert squares[0, 0, 27] == 0.5 and squares[1, 27, 0] == 0.5
    with pytest.raises(rb.RobustnessError, match="1-28 pixels, not 29"):
        rb.occlude(squares, 29, corners)


@pytest.mark.parametrize("path", [SHIPPED_MODEL, DENSE_MODEL], ids=["cnn", "dense"])
def test_each_curve_point_equals_an_independent_computation(fashion, path):
    _, (x_test, y_test) = fashion
    indices = rb.subset_indices(y_test, 10)  # 100 images
    model = load_model_file(path)
    tested = {"noise": (0, 0.2, 0.5), "shift": (0, 2), "rotation": (0, 30), "occlusion": (0, 12)}  # a few levels
    corruptions = tuple(replace(c, levels=tested[c.name]) for c in rb.CORRUPTIONS)
    calls = []
    curves = rb.robustness_curves(
        model,
        x_test[indices],
        y_test[indices],
        indices,
        corruptions=corruptions,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(n, 6) for n in range(1, 7)]  # the clean images, then each level
    assert rb.image_passes(corruptions) == 1 + 2 + 4 + 2 + 1
    assert rb.image_passes() == 1 + 6 + 6 * 4 + 6 * 2 + 5 and rb.progress_steps() == 1 + 6 + 6 + 6 + 5
    x, labels = x_test[indices].astype(np.float32) / 255.0, y_test[indices]
    clean = direct_accuracy(model, x, labels)
    for name, levels in tested.items():
        assert curves[name] == [clean] + [independent_point(model, name, v, x, labels, indices) for v in levels[1:]]


def test_the_examples_are_what_the_curves_measured(fashion):
    _, (x_test, _) = fashion
    shown = rb.examples(x_test[7], 7)
    x = x_test[7:8].astype(np.float32) / 255.0
    np.testing.assert_array_equal(shown["noise"][3], noisy(x, [7], 0.2)[0])
    np.testing.assert_array_equal(shown["shift"][2], shifted(x, 0, 2)[0])  # moved right
    np.testing.assert_allclose(shown["rotation"][1], rotated(x, 10)[0], atol=1e-6)  # anticlockwise
    np.testing.assert_array_equal(shown["occlusion"][5], occluded(x, [7], 20)[0])
    assert [len(shown[c.name]) for c in rb.CORRUPTIONS] == [len(c.levels) for c in rb.CORRUPTIONS]


def test_the_shipped_curves_belong_to_the_shipped_models_and_recompute_exactly(fashion):
    shipped = rb.read_robustness()  # checks both files' SHA-256
    assert set(shipped.fresh) == {"cnn", "dense"} and shipped.stale == ()
    record = json.loads(rb.ROBUSTNESS.read_text())
    assert record["test_images"] == 1000 and record["subset"] == rb.SUBSET and record["seed"] == 0
    _, (x_test, y_test) = fashion
    indices = rb.subset_indices(y_test)  # the same 1,000 images
    x, labels = x_test[indices].astype(np.float32) / 255.0, y_test[indices]
    points = {"cnn": [("noise", 0.1), ("rotation", 10), ("shift", 1)], "dense": [("occlusion", 8), ("shift", 2)]}
    for key, path in (("cnn", SHIPPED_MODEL), ("dense", DENSE_MODEL)):
        model, curves = load_model_file(path), shipped.fresh[key]
        assert {curves[c.name][0] for c in rb.CORRUPTIONS} == {direct_accuracy(model, x, labels)}
        for name, level in points[key]:
            at = rb.BY_NAME[name].levels.index(level)
            assert curves[name][at] == independent_point(model, name, level, x, labels, indices)
    cnn, dense = shipped.fresh["cnn"]["shift"], shipped.fresh["dense"]["shift"]
    assert cnn[1] > dense[1] and cnn[2] > dense[2]  # what the page says about pooling's tolerance


def test_numbers_from_another_model_file_are_not_returned(tmp_path):
    record = json.loads(rb.ROBUSTNESS.read_text())
    record["models"]["cnn"]["sha256"] = "0" * 64
    stale = tmp_path / "robustness.json"
    stale.write_text(json.dumps(record))
    shipped = rb.read_robustness(stale)
    assert shipped.stale == ("cnn",) and set(shipped.fresh) == {"dense"}
    record["corruptions"]["noise"]["levels"] = [0, 1]
    stale.write_text(json.dumps(record))
    with pytest.raises(ModelFileError, match="levels or test images.*python -m models.explain.robustness"):
        rb.read_robustness(stale)
    with pytest.raises(ModelFileError, match="missing or unreadable.*python -m models.explain.robustness"):
        rb.read_robustness(tmp_path / "absent.json")


def test_a_model_that_does_not_take_fashion_mnist_images_is_named():
    import keras

    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(rb.RobustnessError, match=r"takes \(32, 32, 3\) to \(10,\)"):
        rb.check_model(model)
