"""models.explain.inspection on the real Fashion-MNIST test set and the shipped model, checked against Keras and
NumPy."""

import numpy as np
import pytest

from models.design.card import read_filter_snapshots
from models.design.config import plan
from models.explain import inspection as ins
from models.inputs.fashion_mnist import scale_images
from models.inputs.images import fingerprint
from models.networks.train import evaluate as keras_evaluate
from models.networks.zoo import load_model_file
from models.ops.convolution import convolve2d
from models.ops.kernels import CHANCE_THRESHOLD, KERNELS
from tests.support.kernel_reference import reference_best


@pytest.fixture(scope="module")
def model():
    return load_model_file()


@pytest.fixture(scope="module")
def test_set(fashion):
    return fashion[1]


@pytest.fixture(scope="module")
def evaluation(model, test_set):
    return ins.evaluate(model, *test_set)


def logits(model, images):
    """Class scores before softmax, from Keras's own forward pass up to the output layer's input."""
    import keras

    features = keras.Model(model.inputs[0], model.layers[-1].input).predict(scale_images(images), verbose=0)
    output = model.layers[-1]
    return features.astype(np.float64) @ np.asarray(output.kernel, np.float64) + np.asarray(output.bias, np.float64)


def test_course_trio_is_three_ankle_boots(test_set):
    _, labels = test_set
    assert labels[list(ins.COURSE_TRIO)].tolist() == [9, 9, 9]


def test_activation_shapes_equal_the_planned_layer_shapes(model, test_set):
    images, _ = test_set
    activations = ins.layer_activations(model, images[:3])
    planned = {stage.name: (3, *stage.shape) for stage in plan()[1:]}
    assert {name: a.shape for name, a in activations.items()} == planned
    assert ins.spatial_layers(model) == ["conv1", "pool1", "conv2", "pool2"]


def test_conv1_activation_is_relu_of_the_kernel_correlation_plus_bias(model, test_set):
    images, _ = test_set
    conv1 = model.get_layer("conv1")
    kernel, bias = np.asarray(conv1.kernel), np.asarray(conv1.bias)
    maps = ins.layer_activations(model, images[:1], ["conv1"])["conv1"][0]
    for number in (0, 1, 63):
        expected = np.maximum(convolve2d(images[0] / 255.0, kernel[:, :, 0, number]) + bias[number], 0.0)
        np.testing.assert_allclose(maps[..., number], expected, atol=1e-5)


def test_confusion_matrix_sums_to_10000_and_its_trace_is_keras_accuracy(model, evaluation, test_set):
    keras_accuracy = keras_evaluate(model, *test_set)["accuracy"]
    assert evaluation.confusion.sum() == 10_000
    assert evaluation.confusion.sum(axis=1).tolist() == [1000] * 10
    assert np.trace(evaluation.confusion) / 10_000 == pytest.approx(keras_accuracy, abs=1e-6)
    assert evaluation.accuracy == pytest.approx(0.9111, abs=1e-9)
    assert evaluation.mistakes == 10_000 - np.trace(evaluation.confusion)


def test_evaluation_holds_probabilities_and_the_dense_embedding(evaluation):
    assert evaluation.embedding_layer == "dense"
    assert evaluation.embedding.shape == (10_000, 128) and evaluation.embedding.min() >= 0  # ReLU outputs
    np.testing.assert_allclose(evaluation.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert evaluation.seconds > 0
    with pytest.raises(ValueError):
        evaluation.labels[0] = 1  # read-only: shared between sessions by st.cache_resource


def test_confusion_matrix_counts_true_rows_and_predicted_columns(evaluation):
    confusion = ins.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 0, 2]), classes=3)
    assert confusion.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    counts = np.zeros((10, 10), np.int64)
    np.add.at(counts, (evaluation.labels, evaluation.predictions), 1)  # one count per (true, predicted) pair
    np.testing.assert_array_equal(evaluation.confusion, counts)
    with pytest.raises(ins.InspectionError, match="0-2"):
        ins.confusion_matrix(np.array([0, 3]), np.array([0, 1]), classes=3)
    assert ins.confusion_matrix(np.array([0]), np.array([0]), classes=3).tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_class_metrics_follow_their_definitions(evaluation):
    metrics = evaluation.metrics
    labels, predictions = evaluation.labels, evaluation.predictions
    for c in range(10):
        right = sum(1 for t, p in zip(labels, predictions) if t == p == c)
        precision = right / np.count_nonzero(predictions == c)
        recall = right / np.count_nonzero(labels == c)
        assert metrics.precision[c] == pytest.approx(precision)
        assert metrics.recall[c] == pytest.approx(recall)
        assert metrics.f1[c] == pytest.approx(2 * precision * recall / (precision + recall))
    assert metrics.support.tolist() == [1000] * 10
    with pytest.raises(ValueError):
        metrics.f1[0] = 0.0  # read-only, like the rest of the evaluation
    empty = ins.class_metrics(np.array([0, 0, 1]), np.array([0, 0, 0]), classes=2)  # class 1 never predicted
    assert empty.precision.tolist() == [2 / 3, 0.0] and empty.recall.tolist() == [1.0, 0.0]
    assert empty.f1[1] == 0.0 and empty.support.tolist() == [2, 1]
    with pytest.raises(ins.InspectionError, match="0-1"):
        ins.class_metrics(np.array([0, 2]), np.array([0, 1]), classes=2)


def test_most_confident_mistakes_are_mistakes_sorted_by_confidence(evaluation):
    worst = ins.most_confident_mistakes(evaluation, 12)
    assert len(worst) == 12
    assert np.all(evaluation.predictions[worst] != evaluation.labels[worst])
    confidences = evaluation.confidences[worst]
    assert np.all(np.diff(confidences) <= 0)
    wrong = evaluation.predictions != evaluation.labels
    assert confidences[0] == evaluation.confidences[wrong].max()
    assert confidences[-1] >= np.sort(evaluation.confidences[wrong])[-12]


def test_cell_images_are_that_cell_most_confident_first(evaluation):
    found = ins.cell_images(evaluation, 6, 0)  # Shirts predicted as T-shirt/top
    assert len(found) == evaluation.confusion[6, 0] > 0
    assert np.all(evaluation.labels[found] == 6) and np.all(evaluation.predictions[found] == 0)
    assert np.all(np.diff(evaluation.confidences[found]) <= 0)


def test_saliency_is_the_absolute_score_gradient(model, test_set):
    images, _ = test_set
    explanation = ins.saliency(model, images[:4])
    assert explanation.maps.shape == (4, 28, 28) and explanation.maps.min() >= 0
    scores = logits(model, images[:4])
    assert explanation.classes.tolist() == scores.argmax(axis=1).tolist()
    # finite difference on the most salient pixel of image 0: the score changes by gradient * step
    row, col = np.unravel_index(explanation.maps[0].argmax(), (28, 28))
    target = int(explanation.classes[0])
    step = 1e-3
    nudged = model_input_with(images[0], row, col, step, model)
    slope = (nudged[target] - float(scores[0, target])) / step
    assert abs(slope) == pytest.approx(explanation.maps[0, row, col], rel=0.05)


def model_input_with(image, row, col, step, model):
    """Class scores for one image whose (row, col) pixel is raised by `step` (in [0, 1] units)."""
    import keras

    pixels = scale_images(image[np.newaxis]).astype(np.float64)
    pixels[0, row, col, 0] += step
    features = keras.Model(model.inputs[0], model.layers[-1].input).predict(pixels.astype(np.float32), verbose=0)
    output = model.layers[-1]
    return (features.astype(np.float64) @ np.asarray(output.kernel, np.float64) + np.asarray(output.bias))[0]


def test_explanations_report_the_probabilities_keras_predicts(model, test_set):
    images, _ = test_set
    predicted = model.predict(scale_images(images[:5]), verbose=0)
    np.testing.assert_allclose(ins.saliency(model, images[:5]).probabilities, predicted, atol=1e-5)
    np.testing.assert_allclose(ins.grad_cam(model, images[:5]).probabilities, predicted, atol=1e-5)


def test_saliency_for_a_chosen_class(model, test_set):
    images, _ = test_set
    explanation = ins.saliency(model, images[:2], class_index=3)
    assert explanation.classes.tolist() == [3, 3]


def test_grad_cam_on_conv2(model, test_set):
    import keras
    import tensorflow as tf

    images, _ = test_set
    explanation = ins.grad_cam(model, images[:3])
    assert explanation.layer == "conv2"
    assert explanation.maps.shape == (3, 28, 28) and explanation.layer_maps.shape == (3, 11, 11)
    assert explanation.maps.min() >= 0 and explanation.layer_maps.min() >= 0
    # the definition, with the model split at conv2 by Keras functional models
    head = keras.Model(model.inputs[0], model.get_layer("conv2").output)
    tail_input = keras.Input((11, 11, 64))
    tail_output = tail_input
    for name in ("pool2", "flatten", "dense"):
        tail_output = model.get_layer(name)(tail_output)
    tail = keras.Model(tail_input, tail_output)
    output = model.layers[-1]
    maps = head(scale_images(images[:3]))
    with tf.GradientTape() as tape:
        tape.watch(maps)
        scores = tail(maps) @ output.kernel + output.bias
        chosen = tf.reduce_sum(tf.gather(scores, explanation.classes, axis=1, batch_dims=1))
    weights = tf.reduce_mean(tape.gradient(chosen, maps), axis=(1, 2), keepdims=True)
    expected = np.maximum(tf.reduce_sum(weights * maps, axis=-1).numpy(), 0)
    np.testing.assert_allclose(explanation.layer_maps, expected, rtol=1e-4, atol=1e-6)


def test_feature_map_pixels_land_on_the_centre_of_what_they_see(model):
    assert ins.input_grid(model, "conv1") == (1.0, 1.0)
    assert ins.input_grid(model, "conv2") == (2.0, 3.5)
    assert ins.input_grid(model, "pool2") == (4.0, 4.5)
    ramp = np.repeat(np.arange(11.0)[:, None], 11, axis=1)  # value = row of the conv2 map
    resampled = ins.to_input_grid(ramp, 2.0, 3.5)
    expected = np.clip((np.arange(28) - 3.5) / 2.0, 0, 10)
    np.testing.assert_allclose(resampled[:, 5], expected, atol=1e-12)
    square = np.arange(26.0 * 26).reshape(26, 26)
    np.testing.assert_allclose(ins.to_input_grid(square, 1.0, 1.0)[1:27, 1:27], square)


def test_shipped_filter_snapshots_end_at_the_model_kernels(model):
    snapshots = read_filter_snapshots()
    trained = ins.first_layer_kernels(model)
    assert trained.shape == (64, 3, 3)
    np.testing.assert_array_equal(ins.snapshot_kernels(snapshots[-1]), trained)
    assert not np.allclose(ins.snapshot_kernels(snapshots[0]), trained)


def test_kernel_groups_cover_every_kernel_once_and_name_only_matches_above_chance(model):
    kernels = ins.first_layer_kernels(model)
    groups = ins.group_kernels(kernels)
    members = [i for group in groups for i in group.indices]
    assert sorted(members) == list(range(64))
    assert ins.MATCH_THRESHOLD == CHANCE_THRESHOLD and ins.NO_MATCH == "No close classic kernel"
    reference = reference_best(kernels)
    for group in groups:
        assert list(np.abs(group.scores)) == sorted(np.abs(group.scores), reverse=True)
        for index, score in zip(group.indices, group.scores):
            name, best = reference[index]
            assert best == pytest.approx(score, abs=1e-6)
            if group.name == ins.NO_MATCH:
                assert abs(best) <= CHANCE_THRESHOLD
            else:
                assert group.name == (f"{name}, inverted" if best < 0 else name) and abs(best) > CHANCE_THRESHOLD
    assert groups[-1].name == ins.NO_MATCH and 0 in groups[-1].indices  # the zero-sum bar once called a blur
    sobel = KERNELS["Sobel: horizontal edges"].weights
    assert [(g.name, g.scores) for g in ins.group_kernels(np.stack([sobel, -sobel]))] == [
        ("Sobel: horizontal edges", pytest.approx((1.0,))),
        ("Sobel: horizontal edges, inverted", pytest.approx((-1.0,))),
    ]


def test_pca_is_the_svd_of_the_centred_embedding(evaluation):
    projection = ins.pca(evaluation.embedding)
    data = evaluation.embedding.astype(np.float64)
    centred = data - data.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    axes *= np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]  # largest loading positive
    np.testing.assert_allclose(projection.explained, singular[:2] ** 2 / (singular**2).sum(), rtol=1e-6)
    assert projection.explained[0] >= projection.explained[1] > 0
    expected = centred @ axes[:2].T
    np.testing.assert_allclose(projection.coordinates, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())
    variances = projection.coordinates.astype(np.float64).var(axis=0, ddof=1)
    np.testing.assert_allclose(variances, singular[:2] ** 2 / (len(data) - 1), rtol=1e-4)


def neighbour_agreement(points: np.ndarray, labels: np.ndarray, count: int = 5) -> float:
    """Share of each point's `count` nearest neighbours (Euclidean, exact) that have its label."""
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(np.asarray(points, np.float64)).query(points, count + 1)
    return float(np.mean(labels[nearest[:, 1:]] == labels[:, None]))


def test_tsne_is_reproducible_and_keeps_neighbours_of_the_same_class_together(evaluation):
    chosen = ins.subset(len(evaluation.labels), 400)
    assert len(np.unique(chosen)) == 400 and np.all(np.diff(chosen) > 0)
    points, labels = evaluation.embedding[chosen], evaluation.labels[chosen]
    projection = ins.tsne(points, iterations=500)  # scikit-learn's fewest is 250; the page uses 1,000
    assert projection.coordinates.shape == (400, 2) and projection.coordinates.dtype == np.float32
    assert 0 < projection.kl_divergence < 3
    assert (projection.perplexity, projection.iterations) == (30.0, 500)
    again = ins.tsne(points, iterations=500)
    np.testing.assert_array_equal(again.coordinates, projection.coordinates)  # a fixed random_state
    high = neighbour_agreement(points, labels)
    assert neighbour_agreement(projection.coordinates, labels) >= 0.9 * high
    with pytest.raises(ins.InspectionError, match="perplexity"):
        ins.tsne(points[:20])


def test_the_shipped_tsne_layout_belongs_to_the_shipped_model_and_keeps_neighbours(model, evaluation):
    layout = ins.read_tsne_layout(ins.TSNE_LAYOUT, ins.weights_key(model))
    assert layout is not None, "rebuild it: python -m models.explain.inspection --tsne"
    assert layout.coordinates.shape == (10_000, 2) and np.isfinite(layout.coordinates).all()
    assert (layout.perplexity, layout.iterations) == (ins.TSNE_PERPLEXITY, ins.TSNE_ITERATIONS)
    assert 0 < layout.kl_divergence < 3
    high = neighbour_agreement(evaluation.embedding, evaluation.labels)
    assert neighbour_agreement(layout.coordinates, evaluation.labels) >= 0.9 * high


def test_a_saved_layout_is_read_back_only_for_its_own_weights(tmp_path):
    projection = ins.Projection(
        np.arange(6, dtype=np.float32).reshape(3, 2), kl_divergence=0.5, perplexity=2.0, iterations=10
    )
    path = tmp_path / "layout.npz"
    ins.write_tsne_layout(path, projection, "weights-a")
    read = ins.read_tsne_layout(path, "weights-a")
    np.testing.assert_array_equal(read.coordinates, projection.coordinates)
    assert (read.kl_divergence, read.perplexity, read.iterations) == (0.5, 2.0, 10)
    assert ins.read_tsne_layout(path, "weights-b") is None  # another model's layout
    assert ins.read_tsne_layout(tmp_path / "missing.npz", "weights-a") is None
    (tmp_path / "damaged.npz").write_bytes(b"not a zip")
    assert ins.read_tsne_layout(tmp_path / "damaged.npz", "weights-a") is None
    whole = path.read_bytes()
    for cut in (len(whole) // 2, len(whole) - 30, 40):  # truncated copies: made anew, never an error on the page
        (tmp_path / "cut.npz").write_bytes(whole[:cut])
        assert ins.read_tsne_layout(tmp_path / "cut.npz", "weights-a") is None


def test_a_runs_tsne_is_made_in_a_limited_child_and_stored_with_its_weights(tmp_path):
    """tsne_apart: the layout of a run's embedding comes from a child process (models.serving.apart) and is stored
    beside the run, keyed by the weights; two clusters far apart stay apart; no temporary file is left; a child that
    fails is a message, not a traceback."""
    from sklearn.manifold import trustworthiness

    from models.serving.apart import ApartError

    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 1, (60, 8)), rng.normal(20, 1, (60, 8))]).astype(np.float32)
    output = tmp_path / "run" / ins.TSNE_FILE
    output.parent.mkdir()
    layout = ins.tsne_apart(points, output, "weights-a", tmp_path)
    assert layout.coordinates.shape == (120, 2) and layout.perplexity == ins.TSNE_PERPLEXITY
    assert ins.read_tsne_layout(output, "weights-a") is not None and ins.read_tsne_layout(output, "other") is None
    assert trustworthiness(points, layout.coordinates, n_neighbors=5) > 0.9  # scikit-learn's own measure
    first, second = layout.coordinates[:60].mean(axis=0), layout.coordinates[60:].mean(axis=0)
    spread = max(layout.coordinates[:60].std(axis=0).max(), layout.coordinates[60:].std(axis=0).max())
    assert np.linalg.norm(first - second) > 3 * spread
    assert sorted(p.name for p in output.parent.iterdir()) == [ins.TSNE_FILE]
    with pytest.raises(ApartError, match=r"t-SNE of the test images failed \(t-SNE needs a 2-D array"):
        ins.tsne_apart(points[:5], tmp_path / "run" / "small.npz", "weights-a", tmp_path)
    assert sorted(p.name for p in output.parent.iterdir()) == [ins.TSNE_FILE]


def test_parse_indices_reads_numbers_and_refuses_others():
    assert ins.parse_indices("0, 23 28", 10_000) == [0, 23, 28]
    for text, message in [
        ("", "give 1 to 6 indices"),
        ("1 2 3 4 5 6 7", "give 1 to 6 indices"),
        ("12x", "indices are whole numbers"),
        ("10000", "indices run from 0 to 9999"),
        ("-1", "indices are whole numbers"),
    ]:
        with pytest.raises(ins.InspectionError, match=message):
            ins.parse_indices(text, 10_000)


def test_model_input_refuses_other_images():
    with pytest.raises(ins.InspectionError, match="uint8"):
        ins.model_input(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(ins.InspectionError, match="uint8"):
        ins.model_input(np.zeros((28, 28), np.float32))
    assert ins.model_input(np.zeros((28, 28), np.uint8)).shape == (1, 28, 28, 1)


def test_a_truncated_saved_evaluation_is_computed_again(tmp_path):
    """A cut-off evaluation.npz (a full disk, a killed worker) reads as missing, so the page runs the model."""
    path = tmp_path / "evaluation.npz"
    saved = {"labels": np.arange(3), "probabilities": np.full((3, 10), 0.1), "embedding": np.zeros((3, 2))}
    np.savez(path, weights="w", images="i", embedding_layer="dense", seconds=1.0, **saved)
    whole = path.read_bytes()
    assert ins.read_evaluation(path, "w", "i") is not None
    for length in (10, len(whole) // 2, len(whole) - 30):
        path.write_bytes(whole[:length])
        assert ins.read_evaluation(path, "w", "i") is None


def test_the_saved_evaluation_belongs_to_the_shipped_model_and_matches_keras(model, evaluation, test_set):
    """Inspect reads the shipped model's test-set pass from disk: the same numbers as running Keras now."""
    images, labels = test_set
    saved = ins.read_evaluation(ins.EVALUATION_FILE, ins.weights_key(model), fingerprint(images))
    assert saved is not None and saved.saved, "rebuild it: python -m models.explain.inspection --evaluation"
    np.testing.assert_array_equal(saved.labels, labels)
    np.testing.assert_allclose(saved.probabilities, evaluation.probabilities, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(saved.embedding, evaluation.embedding, rtol=1e-4, atol=1e-5)
    assert saved.embedding_layer == evaluation.embedding_layer
    top_two = np.sort(evaluation.probabilities, axis=1)[:, -2:]
    clear = top_two[:, 1] - top_two[:, 0] > 1e-3  # another CPU may round a near tie the other way
    np.testing.assert_array_equal(saved.predictions[clear], evaluation.predictions[clear])
    assert saved.accuracy == pytest.approx(0.9111, abs=5e-5) and abs(saved.mistakes - evaluation.mistakes) <= 2
    assert ins.read_evaluation(ins.EVALUATION_FILE, "other weights", fingerprint(images)) is None
    assert ins.read_evaluation(ins.EVALUATION_FILE, ins.weights_key(model), fingerprint(images[:10])) is None
