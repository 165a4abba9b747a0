"""Looking inside a trained classifier: activations, test-set evaluation, gradients and 2-D projections.

Conventions: confusion matrices have true classes as rows and predicted classes as columns;
"class score" means the output layer's value before softmax (the logit), as in the saliency
(Simonyan et al. 2014) and Grad-CAM (Selvaraju et al. 2017) papers. The confusion matrix, per-class
metrics, PCA and t-SNE are scikit-learn's.

`python -m models.explain.inspection --tsne` writes the shipped model's t-SNE layout of the 10,000 test images
(models/fashion_cnn.tsne.npz), so the Inspect page need not compute it; `make model` runs it after training.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import uuid
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from scipy import ndimage
from sklearn import metrics
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from models.design.card import SHIPPED_MODEL
from models.design.config import AUGMENTATION_KINDS
from models.inputs.fashion_mnist import read_indices, scale_images
from models.inputs.images import fingerprint
from models.ops.geometry import axis_plan
from models.ops.kernels import CHANCE_THRESHOLD, NO_CLOSE_KERNEL, filters_first, most_similar_kernel
from models.training.job_protocol import write_atomically

SPATIAL_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D")
COURSE_TRIO = (0, 23, 28)  # the course notebook's FIRST_IMAGE, SECOND_IMAGE, THIRD_IMAGE: three ankle boots
MATCH_THRESHOLD = CHANCE_THRESHOLD  # |cosine| at or below this: no close library match (random filters reach it)
NO_MATCH = NO_CLOSE_KERNEL.capitalize()


class InspectionError(ValueError):
    """A request the model or data cannot answer; the message says why."""


# ---------------------------------------------------------------- inputs and layers


def model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) or one (28, 28) image -> float32 (N, 28, 28, 1) in [0, 1]."""
    pixels = np.asarray(images)
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    if pixels.ndim != 3 or pixels.shape[1:] != (28, 28) or pixels.dtype != np.uint8:
        raise InspectionError(f"Expected uint8 Fashion-MNIST images (N, 28, 28), got {pixels.dtype} {pixels.shape}.")
    return scale_images(pixels)


def forward(model: keras.Model, pixels: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for float inputs (N, ...), called directly in batches: the numbers `model.predict` gives,
    without its fixed cost (about 80 ms a call here), which dominates for the few hundred images a view needs."""
    parts = [model(pixels[i : i + batch_size], training=False) for i in range(0, len(pixels), batch_size)]
    return np.concatenate([np.asarray(part) for part in parts])


def spatial_layers(model: keras.Model) -> list[str]:
    """Names of the convolution and pooling layers, in order: the layers that output feature maps."""
    return [layer.name for layer in model.layers if type(layer).__name__ in SPATIAL_KINDS]


def last_conv_layer(model: keras.Model) -> str:
    """The last Conv2D layer (conv2 in the course CNN): the usual Grad-CAM layer."""
    names = [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]
    if not names:
        raise InspectionError(f"Model {model.name!r} has no convolution layer, so there is no Grad-CAM map.")
    return names[-1]


def embedding_layer(model: keras.Model) -> str:
    """The last layer before the output that is not Dropout (the 128-unit dense layer in the course CNN)."""
    candidates = [layer.name for layer in model.layers[:-1] if type(layer).__name__ != "Dropout"]
    if not candidates:
        raise InspectionError(f"Model {model.name!r} has no hidden layer to project.")
    return candidates[-1]


def _outputs_model(model: keras.Model, layer_names: Sequence[str]) -> keras.Model:
    try:
        outputs = [model.get_layer(name).output for name in layer_names]
    except ValueError as error:
        raise InspectionError(str(error)) from None
    return keras.Model(model.inputs[0], outputs)


def layer_activations(
    model: keras.Model, images: np.ndarray, layer_names: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Each layer's output for uint8 images (N, 28, 28): {name: (N, *shape)} float32; all layers by default."""
    names = list(layer_names) if layer_names is not None else [layer.name for layer in model.layers]
    outputs = _outputs_model(model, names)(model_input(images), training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {name: np.asarray(output) for name, output in zip(names, outputs)}


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True, eq=False)
class ClassMetrics:
    """Per-class precision, recall, F1 and support (number of true images), each of shape (classes,)."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray


@dataclass(frozen=True, eq=False)
class Evaluation:
    """One prediction pass over a labelled image set; arrays are read-only."""

    labels: np.ndarray  # (N,) true classes
    probabilities: np.ndarray  # (N, classes) softmax outputs
    embedding: np.ndarray  # (N, units) output of `embedding_layer`
    embedding_layer: str
    seconds: float  # wall time of the prediction pass
    predictions: np.ndarray  # (N,) argmax of probabilities
    confidences: np.ndarray  # (N,) probability of the predicted class
    confusion: np.ndarray  # (classes, classes): rows true, columns predicted
    metrics: ClassMetrics  # per-class precision, recall, F1 and support
    saved: bool = (
        False  # read from the file `python -m models.explain.inspection --evaluation` wrote (seconds: when made)
    )

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.confusion.sum())

    @property
    def mistakes(self) -> int:
        return int(self.confusion.sum() - np.trace(self.confusion))


def _class_pairs(labels: np.ndarray, predictions: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The labels and predictions as equal 1-D integer arrays of classes 0 to classes - 1 (else InspectionError:
    scikit-learn would silently drop a class outside the list it is given)."""
    labels, predictions = np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise InspectionError(f"labels {labels.shape} and predictions {predictions.shape} must be equal 1-D arrays.")
    if labels.size and (min(labels.min(), predictions.min()) < 0 or max(labels.max(), predictions.max()) >= classes):
        raise InspectionError(f"Classes must be 0-{classes - 1}.")
    return labels, predictions


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    """Counts of (true, predicted) pairs: rows are true classes, columns predicted classes (scikit-learn's)."""
    labels, predictions = _class_pairs(labels, predictions, classes)
    return metrics.confusion_matrix(labels, predictions, labels=np.arange(classes)).astype(np.int64)


def class_metrics(labels: np.ndarray, predictions: np.ndarray, classes: int = 10) -> ClassMetrics:
    """Precision = correct / predicted as the class, recall = correct / truly the class, F1 their harmonic mean
    (scikit-learn's precision_recall_fscore_support). A ratio with a zero denominator is reported as 0."""
    labels, predictions = _class_pairs(labels, predictions, classes)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predictions, labels=np.arange(classes), zero_division=0
    )
    return ClassMetrics(precision, recall, f1, support.astype(np.int64))


def evaluate(model: keras.Model, images: np.ndarray, labels: np.ndarray, *, batch_size: int = 64) -> Evaluation:
    """Class probabilities and hidden-layer embedding of every image in one predict pass.

    Batches of 64 keep the peak memory about 60 MB below batches of 256, and are no slower on 2 CPU cores.
    """
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise InspectionError(f"{len(images)} images but {len(labels)} labels.")
    layer = embedding_layer(model)
    both = keras.Model(model.inputs[0], [model.get_layer(layer).output, model.outputs[0]])
    start = time.perf_counter()
    embedding, probabilities = both.predict(model_input(images), batch_size=batch_size, verbose=0)
    seconds = time.perf_counter() - start
    return _evaluation(labels, probabilities, embedding.reshape(len(images), -1), layer, seconds)


def _evaluation(
    labels: np.ndarray,
    probabilities: np.ndarray,
    embedding: np.ndarray,
    layer: str,
    seconds: float,
    *,
    saved: bool = False,
) -> Evaluation:
    """An Evaluation from one pass's probabilities and embedding: predictions, confusion, per-class metrics."""
    predictions, classes = probabilities.argmax(axis=1), probabilities.shape[1]
    arrays = {
        "labels": labels.astype(np.int64),
        "probabilities": probabilities,
        "embedding": embedding,
        "predictions": predictions,
        "confidences": probabilities[np.arange(len(labels)), predictions],
        "confusion": confusion_matrix(labels, predictions, classes),
    }
    per_class = class_metrics(labels, predictions, classes)
    for array in [*arrays.values(), *vars(per_class).values()]:
        array.setflags(write=False)
    return Evaluation(embedding_layer=layer, seconds=seconds, metrics=per_class, saved=saved, **arrays)


EVALUATION_FILE = SHIPPED_MODEL.with_suffix(".evaluation.npz")  # the shipped model on the 10,000 test images


def write_evaluation(path: Path, result: Evaluation, weights: str, images: str) -> None:
    """Save an evaluation with the fingerprints of the model's weights and of the images it was made from."""
    np.savez_compressed(
        path,
        labels=result.labels,
        probabilities=result.probabilities,
        embedding=result.embedding,
        embedding_layer=np.array(result.embedding_layer),
        seconds=np.array(result.seconds, dtype=float),
        weights=np.array(weights),
        images=np.array(images),
    )


def read_evaluation(path: Path, weights: str, images: str) -> Evaluation | None:
    """The evaluation saved at `path` if it was made from these weights and images; None if it is missing,
    unreadable (a truncated or corrupt file too) or made from others (the page then runs the model)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["weights"]) != weights or str(saved["images"]) != images:
                return None
            return _evaluation(
                saved["labels"].astype(np.int64),
                saved["probabilities"],
                saved["embedding"],
                str(saved["embedding_layer"]),
                float(saved["seconds"]),
                saved=True,
            )
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def most_confident_mistakes(evaluation: Evaluation, count: int = 12) -> np.ndarray:
    """Indices of wrongly classified images, the most confident (highest predicted probability) first."""
    wrong = np.flatnonzero(evaluation.predictions != evaluation.labels)
    order = np.argsort(-evaluation.confidences[wrong], kind="stable")
    return wrong[order][:count]


def cell_images(evaluation: Evaluation, true_class: int, predicted_class: int) -> np.ndarray:
    """Indices of images of `true_class` predicted as `predicted_class`, the most confident first."""
    found = np.flatnonzero((evaluation.labels == true_class) & (evaluation.predictions == predicted_class))
    return found[np.argsort(-evaluation.confidences[found], kind="stable")]


def first_of_class(labels: np.ndarray, class_index: int, count: int = 3) -> np.ndarray:
    """The first `count` indices of images whose label is `class_index`."""
    found = np.flatnonzero(np.asarray(labels) == class_index)[:count]
    if found.size == 0:
        raise InspectionError(f"No image has class {class_index}.")
    return found


def parse_indices(text: str, count: int, most: int = 6) -> list[int]:
    """Image indices typed as "0, 23, 28" (models.inputs.fashion_mnist.read_indices); InspectionError says what is
    wrong."""
    try:
        return list(read_indices(text, count, most))
    except ValueError as error:
        example = ", ".join(map(str, COURSE_TRIO if count > max(COURSE_TRIO) else range(min(3, count))))
        raise InspectionError(f"Image indices: {error}, e.g. {example}.") from None


# ---------------------------------------------------------------- gradients


def _score_gradients(
    model: keras.Model, images: np.ndarray, class_index: int | Sequence[int] | None, layer: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradient of each uint8 image's class score w.r.t. the input (layer None) or `layer`'s output.

    Returns (gradients, watched tensor, explained classes, probabilities); see `input_gradients`.
    """
    return input_gradients(model, model_input(images), class_index, layer)


def input_gradients(
    model: keras.Model, inputs: np.ndarray, class_index: int | Sequence[int] | None, layer: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradient of each model input's (N, 28, 28, 1) float32 class score w.r.t. the input (layer None) or `layer`'s
    output.

    Runs the layers one by one (the lab's models are Sequential) so the tape can watch any of them.
    The class score is the logit: when the output layer is a softmax Dense, its pre-softmax value.
    Returns (gradients, watched tensor, explained classes, probabilities).
    """
    if not isinstance(model, keras.Sequential):
        raise InspectionError(f"Model {model.name!r} is not a Sequential model; gradients need one.")
    if layer is not None and layer not in [item.name for item in model.layers]:
        raise InspectionError(f"Model {model.name!r} has no layer {layer!r}.")
    *hidden, output_layer = model.layers
    softmax_dense = (
        isinstance(output_layer, keras.layers.Dense) and getattr(output_layer.activation, "__name__", "") == "softmax"
    )
    tensor = tf.constant(np.asarray(inputs, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        watched = tensor
        for item in hidden:
            tensor = item(tensor, training=False)
            if item.name == layer:
                tape.watch(tensor)
                watched = tensor
        if softmax_dense:
            scores = tf.matmul(tensor, output_layer.kernel) + output_layer.bias
            probabilities = tf.nn.softmax(scores)
        else:
            scores = probabilities = output_layer(tensor, training=False)
        if class_index is None:
            classes = tf.argmax(probabilities, axis=1, output_type=tf.int32)
        else:
            classes = tf.broadcast_to(tf.constant(class_index, dtype=tf.int32), [tensor.shape[0]])
        total = tf.reduce_sum(tf.gather(scores, classes, axis=1, batch_dims=1))  # images are independent
    gradients = tape.gradient(total, watched)
    return np.asarray(gradients), np.asarray(watched), np.asarray(classes), np.asarray(probabilities)


@dataclass(frozen=True, eq=False)
class Explanation:
    """Heat maps for N images: `maps` (N, 28, 28) on the input grid, for the class `classes[i]`."""

    maps: np.ndarray
    classes: np.ndarray
    probabilities: np.ndarray  # (N, classes)
    layer_maps: np.ndarray | None = None  # Grad-CAM only: (N, h, w) at the conv layer's resolution
    layer: str | None = None


def saliency(model: keras.Model, images: np.ndarray, class_index: int | Sequence[int] | None = None) -> Explanation:
    """|d class score / d pixel| (max over channels): how much each pixel would change the score.

    `class_index` None explains each image's predicted class.
    """
    gradients, _, classes, probabilities = _score_gradients(model, images, class_index, None)
    return Explanation(np.abs(gradients).max(axis=-1), classes, probabilities)


def grad_cam(
    model: keras.Model, images: np.ndarray, class_index: int | Sequence[int] | None = None, layer: str | None = None
) -> Explanation:
    """Grad-CAM: ReLU(sum_k alpha_k A_k) with alpha_k the mean gradient of the class score over map A_k.

    `layer` defaults to the last conv layer; its map is resampled to 28x28 by
    `to_input_grid`, so each feature-map pixel lands on the centre of the pixels it sees.
    """
    layer = layer or last_conv_layer(model)
    gradients, activations, classes, probabilities = _score_gradients(model, images, class_index, layer)
    if activations.ndim != 4:
        raise InspectionError(f"Layer {layer!r} does not output feature maps (shape {activations.shape[1:]}).")
    weights = gradients.mean(axis=(1, 2), keepdims=True)
    layer_maps = np.maximum((weights * activations).sum(axis=-1), 0.0)
    scale, offset = input_grid(model, layer)
    maps = np.stack([to_input_grid(cam, scale, offset) for cam in layer_maps])
    return Explanation(maps, classes, probabilities, layer_maps, layer)


def input_grid(model: keras.Model, layer: str) -> tuple[float, float]:
    """(scale, offset): pixel i of `layer`'s feature map is centred on input pixel scale * i + offset.

    Walks the conv and pooling layers up to `layer`; e.g. conv2 of the course CNN gives (2, 3.5).
    """
    scale, offset = 1.0, 0.0
    for item in model.layers:
        kind = type(item).__name__
        if kind in SPATIAL_KINDS:
            config = item.get_config()
            size = config.get("kernel_size") or config["pool_size"]
            stride = config.get("strides") or size
            if config.get("dilation_rate", (1, 1)) != (1, 1) or size[0] != size[1] or stride[0] != stride[1]:
                raise InspectionError(f"Layer {item.name!r}: only square, undilated windows are supported.")
            before = axis_plan(item.input.shape[1], size[0], stride[0], config["padding"]).before
            offset += scale * ((size[0] - 1) / 2 - before)
            scale *= stride[0]
        elif kind not in ("Dropout", "Activation", "BatchNormalization", *AUGMENTATION_KINDS):
            raise InspectionError(f"Layer {layer!r} is not a feature-map layer before {item.name!r}.")
        if item.name == layer:
            return scale, offset
    raise InspectionError(f"Model {model.name!r} has no layer {layer!r}.")


def to_input_grid(feature_map: np.ndarray, scale: float, offset: float, size: int = 28) -> np.ndarray:
    """Bilinear resampling of an (h, w) map onto the size x size input (edges held constant)."""
    coordinates = (np.arange(size) - offset) / scale
    rows, cols = np.meshgrid(coordinates, coordinates, indexing="ij")
    return ndimage.map_coordinates(np.asarray(feature_map, dtype=np.float64), [rows, cols], order=1, mode="nearest")


# ---------------------------------------------------------------- learned kernels


def first_layer_kernels(model: keras.Model) -> np.ndarray:
    """The first conv layer's single-channel kernels as (filters, k, k)."""
    conv = next((layer for layer in model.layers if type(layer).__name__ == "Conv2D"), None)
    if conv is None:
        raise InspectionError(f"Model {model.name!r} has no convolution layer.")
    return snapshot_kernels(np.asarray(conv.kernel))


def snapshot_kernels(kernel: np.ndarray) -> np.ndarray:
    """A Keras conv kernel (k, k, 1, filters) -> (filters, k, k)."""
    if kernel.ndim != 4 or kernel.shape[2] != 1:
        raise InspectionError(f"Expected a one-channel kernel (k, k, 1, filters), got shape {kernel.shape}.")
    return filters_first(kernel)


@dataclass(frozen=True)
class KernelGroup:
    """Kernels most similar to one library kernel; `scores` are the signed cosine similarities."""

    name: str
    indices: tuple[int, ...]
    scores: tuple[float, ...]


def group_kernels(kernels: np.ndarray, threshold: float = MATCH_THRESHOLD) -> list[KernelGroup]:
    """Group (n, 3, 3) kernels by their most similar library kernel (models.ops.kernels.most_similar_kernel).

    Groups are ordered largest first, kernels by |cosine| within a group; a kernel matching the inverted
    pattern (negative cosine) joins "<name>, inverted". Kernels whose best |cosine| does not beat `threshold`
    (by default what 95% of random initial filters stay below), or whose weights are all zero, form the last
    group, NO_MATCH.
    """
    if kernels.ndim != 3 or kernels.shape[1:] != (3, 3):
        raise InspectionError(f"Grouping needs 3x3 kernels, got shape {kernels.shape[1:]}.")
    members: dict[str, list[tuple[int, float]]] = {}
    unmatched: list[tuple[int, float]] = []
    for index, weights in enumerate(kernels):
        try:
            match = most_similar_kernel(weights)
        except ValueError:
            unmatched.append((index, 0.0))
            continue
        if abs(match.cosine) <= threshold:
            unmatched.append((index, match.cosine))
        else:
            name = f"{match.best}, inverted" if match.cosine < 0 else match.best
            members.setdefault(name, []).append((index, match.cosine))
    ordered = sorted(members.items(), key=lambda item: (-len(item[1]), item[0]))
    if unmatched:
        ordered.append((NO_MATCH, unmatched))
    groups = []
    for name, items in ordered:
        items = sorted(items, key=lambda item: -abs(item[1]))
        groups.append(KernelGroup(name, tuple(i for i, _ in items), tuple(s for _, s in items)))
    return groups


# ---------------------------------------------------------------- 2-D projections

TSNE_PERPLEXITY = 30.0
TSNE_ITERATIONS = 1_000  # scikit-learn's default
TSNE_LAYOUT = SHIPPED_MODEL.with_suffix(".tsne.npz")  # the shipped model's layout of the 10,000 test images
TSNE_FILE = "tsne.npz"  # a learner's run's layout, beside its model.keras (tsne_apart)


@dataclass(frozen=True, eq=False)
class Projection:
    """2-D coordinates of N points: PCA's with `explained` (each axis's share of the variance), or t-SNE's with its
    final KL divergence and settings."""

    coordinates: np.ndarray
    explained: np.ndarray | None = None
    kl_divergence: float | None = None
    perplexity: float | None = None
    iterations: int | None = None


def pca(points: np.ndarray, components: int = 2) -> Projection:
    """Principal components (scikit-learn's PCA on float64), each axis signed so its largest loading is positive."""
    data = np.asarray(points, dtype=np.float64)
    if data.ndim != 2 or len(data) < 2:
        raise InspectionError(f"PCA needs a 2-D array of at least 2 points, got shape {data.shape}.")
    fitted = PCA(n_components=components)
    coordinates = fitted.fit_transform(data)
    return Projection(coordinates.astype(np.float32), fitted.explained_variance_ratio_)


def perplexity_for(points: int) -> float:
    """TSNE_PERPLEXITY, or (points - 1) / 3 when that is smaller: scikit-learn needs perplexity < points, and its
    Barnes-Hut t-SNE looks at the 3 x perplexity nearest neighbours of each point, which must exist."""
    return float(min(TSNE_PERPLEXITY, (points - 1) / 3))


def tsne(
    points: np.ndarray,
    *,
    perplexity: float = TSNE_PERPLEXITY,
    iterations: int = TSNE_ITERATIONS,
    random_state: int = 0,
) -> Projection:
    """Barnes-Hut t-SNE (van der Maaten 2014), scikit-learn's TSNE with PCA initialisation and its "auto" learning
    rate; the same points and random_state give the same layout.

    On the 10,000 x 128 test embedding it took 117-129 s on the 2 CPU cores here (shared with other work), hence the
    layout shipped with the model (`python -m models.explain.inspection --tsne` writes it).
    """
    data = np.asarray(points, dtype=np.float32)
    if data.ndim != 2 or not 0 < perplexity < len(data):
        raise InspectionError(
            f"t-SNE needs a 2-D array of more points than the perplexity ({perplexity}); got shape {data.shape}."
        )
    fitted = TSNE(
        n_components=2,
        perplexity=perplexity,
        max_iter=iterations,
        init="pca",
        learning_rate="auto",
        method="barnes_hut",
        random_state=random_state,
    )
    coordinates = fitted.fit_transform(data).astype(np.float32)
    return Projection(
        coordinates, kl_divergence=float(fitted.kl_divergence_), perplexity=perplexity, iterations=iterations
    )


def weights_key(model: keras.Model) -> str:
    """A fingerprint of every weight of the model: which model a saved layout belongs to."""
    return fingerprint(*model.get_weights())


def write_tsne_layout(path: Path, projection: Projection, weights: str) -> None:
    """Save a t-SNE projection with the weights fingerprint of the model it was made from (written whole, then
    renamed: a reader never sees half a file)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        coordinates=projection.coordinates,
        kl_divergence=np.array(projection.kl_divergence, dtype=float),
        perplexity=np.array(projection.perplexity, dtype=float),
        iterations=np.array(projection.iterations, dtype=float),
        weights=np.array(weights),
    )
    write_atomically(path, buffer.getvalue())


def tsne_apart(embedding: np.ndarray, output: Path, weights: str, root: Path) -> Projection:
    """t-SNE of a learner's run's test embedding in a limited child process (models.serving.apart; the web server must
    not spend minutes of a core on it), stored at `output`; ApartError saying why not."""
    from models.serving.apart import ApartError, run_apart

    points = output.with_name(f".{output.name}.{uuid.uuid4().hex}.partial")  # the points, for the child only
    try:
        with open(points, "wb") as handle:
            np.save(handle, np.asarray(embedding, dtype=np.float32), allow_pickle=False)
        arguments = ["--embedding", str(points), "--output", str(output), "--weights", weights]
        run_apart("models.explain.inspection", arguments, output, root, "t-SNE of the test images")
    except OSError as error:  # a full disk, or the run deleted in another tab meanwhile
        raise ApartError(f"t-SNE of the test images could not be stored ({error.strerror or error}).") from None
    finally:
        points.unlink(missing_ok=True)
    layout = read_tsne_layout(output, weights)
    if layout is None:
        raise ApartError("t-SNE of the test images left no layout for this model.")
    return layout


def read_tsne_layout(path: Path, weights: str) -> Projection | None:
    """The layout saved at `path` if it was made from a model with these weights; None if it is missing,
    unreadable or belongs to other weights."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["weights"]) != weights:
                return None
            return Projection(
                saved["coordinates"].astype(np.float32),
                kl_divergence=float(saved["kl_divergence"]),
                perplexity=float(saved["perplexity"]),
                iterations=int(saved["iterations"]),
            )
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):  # missing or damaged: make anew
        return None


def subset(count: int, size: int, seed: int = 0) -> np.ndarray:
    """`size` sorted indices of `count` items, drawn without replacement (all of them if `size` >= `count`)."""
    if size >= count:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size, replace=False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.explain.inspection", description="Precompute what Inspect shows."
    )
    parser.add_argument(
        "--tsne", action="store_true", help="write the model's t-SNE layout of the 10,000 test images next to it"
    )
    parser.add_argument(
        "--evaluation",
        action="store_true",
        help="write the model's evaluation on the 10,000 test images next to it (Inspect's Evaluation and Embedding)",
    )
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="the .keras file (default: the shipped one)")
    parser.add_argument(
        "--embedding", type=Path, help="instead: t-SNE of these points (.npy) to --output, keyed --weights"
    )
    parser.add_argument("--output", type=Path, help="with --embedding: where the layout goes")
    parser.add_argument("--weights", default="", help="with --embedding: the weights fingerprint the points came from")
    parser.add_argument("--limited", action="store_true", help="with the upload check's memory, CPU and thread limits")
    args = parser.parse_args(argv)
    if args.limited:
        from models.serving.apart import limit_this_process

        limit_this_process()
    if args.embedding is not None:
        return tsne_of_file(args.embedding, args.output, args.weights)
    if not (args.tsne or args.evaluation):
        parser.error("nothing to do: pass --tsne and/or --evaluation")

    from models.inputs.fashion_mnist import load_fashion_mnist
    from models.networks.zoo import load_model_file

    model = load_model_file(args.model)
    (_, _), (x_test, y_test) = load_fashion_mnist()
    result = evaluate(model, x_test, y_test)
    if args.evaluation:
        output = args.model.with_suffix(".evaluation.npz")
        write_evaluation(output, result, weights_key(model), fingerprint(x_test))
        print(f"evaluation of {len(x_test):,} test images (accuracy {result.accuracy:.4f}); saved {output}")
    if not args.tsne:
        return 0
    embedding = result.embedding
    start = time.perf_counter()
    projection = tsne(embedding)
    output = args.model.with_suffix(".tsne.npz")
    write_tsne_layout(output, projection, weights_key(model))
    print(
        f"t-SNE of {len(embedding):,} x {embedding.shape[1]} points in {time.perf_counter() - start:.0f} s "
        f"(KL divergence {projection.kl_divergence:.2f}); saved {output}"
    )
    return 0


def tsne_of_file(points_file: Path, output: Path | None, weights: str) -> int:
    """The child of tsne_apart: t-SNE of the saved points, written with their weights' fingerprint."""
    if output is None or not weights:
        print("--embedding needs --output and --weights", file=sys.stderr)
        return 2
    try:
        points = np.load(points_file, allow_pickle=False)
        write_tsne_layout(output, tsne(points), weights)
    except (OSError, ValueError, InspectionError) as error:
        print(str(error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
