"""Nearest training images in a model's embedding (its last hidden layer), by cosine similarity.

`build_index` runs the model (TensorFlow, imported lazily) outside the web server: `make model` for the shipped
model; for a learner's run or upload, on its first Predict visit, `python -m models.explain.neighbours MODEL --output
FILE
--limited`, a child process with the upload check's limits (`build_apart`). Not in the training worker: the 12,000
images would lengthen every class run, and most runs never visit Predict. Each writes
`neighbours.npz` beside the model; the web server only reads it (`read_index`, about 2 MB compressed, 6 MB in
memory) and searches it with NumPy (`nearest`).
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.design.card import SHIPPED_MODEL
from models.inputs.images import fingerprint
from models.training.job_protocol import write_atomically

if TYPE_CHECKING:
    import keras

INDEX_SIZE = 12_000  # training images embedded once per model: ~20% of the training set
NEIGHBOURS_FILE = "neighbours.npz"  # a run's index, beside its model.keras
SHIPPED_NEIGHBOURS = SHIPPED_MODEL.with_suffix(".neighbours.npz")


class NeighbourFileError(ValueError):
    """A stored index that is missing, damaged, or made from other weights or images; the message says which."""


@dataclass(frozen=True, eq=False)
class NeighbourIndex:
    """Embeddings of a training subset; `unit_vectors` rows have length 1 (all-zero rows stay 0)."""

    indices: np.ndarray  # (N,) positions in the training set
    labels: np.ndarray  # (N,) their classes
    unit_vectors: np.ndarray  # (N, D) float32
    layer: str  # the embedding layer's name
    seconds: float  # wall time of the embedding pass


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its Euclidean length; rows of zeros stay zero (cosine 0 with everything)."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    lengths = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, lengths, out=np.zeros_like(vectors), where=lengths > 0)


def build_index(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, *, size: int = INDEX_SIZE, seed: int = 0
) -> NeighbourIndex:
    """Embed `size` randomly chosen uint8 images (N, 28, 28) in the model's last hidden layer, in one predict pass."""
    from models.explain import inspection as ins  # imports TensorFlow

    chosen = ins.subset(len(images), size, seed)
    result = ins.evaluate(model, images[chosen], labels[chosen])
    return _frozen(chosen, result.labels, unit_rows(result.embedding), result.embedding_layer, result.seconds)


def _frozen(indices, labels, vectors, layer: str, seconds: float) -> NeighbourIndex:
    for array in (indices, labels, vectors):
        array.setflags(write=False)
    return NeighbourIndex(indices, labels, vectors, layer, seconds)


def nearest(index: NeighbourIndex, vector: np.ndarray, count: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The `count` most cosine-similar entries to one embedding `vector`: (training-set indices, similarities),
    most similar first (ties by training index)."""
    query = unit_rows(np.ravel(vector))[0]
    if query.shape[0] != index.unit_vectors.shape[1]:
        raise ValueError(f"The vector has {query.shape[0]} values but the index holds {index.unit_vectors.shape[1]}.")
    similarities = index.unit_vectors @ query
    order = np.lexsort((index.indices, -similarities))[:count]
    return index.indices[order], similarities[order]


# ---------------------------------------------------------------- stored beside the model


def write_index(path: Path, index: NeighbourIndex, weights: str, images: str) -> None:
    """Save an index with the fingerprints of the model's weights and of the embedded images; written to a
    temporary name and renamed, so a reader never sees half a file."""
    buffer = io.BytesIO()
    np.savez_compressed(  # float32: float16 changed the order of the 8 shown in 10% of test queries
        buffer,
        indices=index.indices.astype(np.int32),
        labels=index.labels.astype(np.uint8),
        unit_vectors=index.unit_vectors.astype(np.float32),
        layer=np.array(index.layer),
        seconds=np.array(index.seconds, dtype=float),
        weights=np.array(weights),
        images=np.array(images),
    )
    write_atomically(path, buffer.getvalue())


def read_index(path: Path, weights: str, x_train: np.ndarray, y_train: np.ndarray) -> NeighbourIndex:
    """The index saved at `path` if it was made from these weights and these training images and labels;
    NeighbourFileError saying why not (missing, damaged, or made from another model or other images)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            made_from = str(saved["weights"])
            indices, labels = saved["indices"].astype(np.int64), saved["labels"].astype(np.int64)
            vectors = np.asarray(saved["unit_vectors"], dtype=np.float32)
            layer, seconds, images = str(saved["layer"]), float(saved["seconds"]), str(saved["images"])
    except FileNotFoundError:
        raise NeighbourFileError("This model has no stored neighbour index yet.") from None
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise NeighbourFileError(f"The stored neighbour index is damaged ({type(error).__name__}).") from None
    if made_from != weights:
        raise NeighbourFileError("The stored neighbour index was made from other weights than this model's.")
    shapes_fit = indices.ndim == 1 and vectors.shape[:1] == indices.shape == labels.shape and vectors.ndim == 2
    if not shapes_fit or not np.all((indices >= 0) & (indices < len(x_train))):
        raise NeighbourFileError("The stored neighbour index is damaged (its arrays do not fit together).")
    if fingerprint(x_train[indices]) != images or not np.array_equal(y_train[indices], labels):
        raise NeighbourFileError("The stored neighbour index was made from other training images.")
    return _frozen(indices, labels, vectors, layer, seconds)


def save_index(model: keras.Model, x_train: np.ndarray, y_train: np.ndarray, path: Path) -> NeighbourIndex:
    """Build the model's index of the training images and store it at `path`, keyed by weights and images."""
    from models.explain.inspection import weights_key

    index = build_index(model, x_train, y_train)
    write_index(path, index, weights_key(model), fingerprint(x_train[index.indices]))
    return index


def build_apart(model_file: Path, output: Path, root: Path) -> None:
    """Store the index of a learner's model in a limited child process (models.serving.apart, under the data folder
    `root`); NeighbourFileError saying why not. Never runs the model in the calling process."""
    from models.serving.apart import ApartError, run_apart

    try:
        run_apart(
            "models.explain.neighbours",
            [str(model_file), "--output", str(output)],
            output,
            root,
            "Embedding the training images",
        )
    except ApartError as error:
        raise NeighbourFileError(str(error)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.explain.neighbours",
        description="Store a model's nearest-neighbour index of training images.",
    )
    parser.add_argument("model", type=Path, nargs="?", default=SHIPPED_MODEL, help="the .keras file (default: shipped)")
    parser.add_argument("--output", type=Path, help="where to write it (default: MODEL with .neighbours.npz)")
    parser.add_argument("--limited", action="store_true", help="with the upload check's memory, CPU and thread limits")
    args = parser.parse_args(argv)
    if args.limited:
        from models.serving.apart import limit_this_process

        limit_this_process()
    from models.design.card import ModelFileError, check_model_archive
    from models.inputs.fashion_mnist import DataError, load_fashion_mnist

    output = args.output or args.model.with_suffix(".neighbours.npz")
    try:
        check_model_archive(args.model)  # a damaged file is refused before TensorFlow loads
    except (ModelFileError, OSError) as error:
        print(str(error), file=sys.stderr)
        return 1
    from models.explain.inspection import InspectionError
    from models.networks.zoo import load_model_file

    try:
        model = load_model_file(args.model)
        (x_train, y_train), _ = load_fashion_mnist()
        index = save_index(model, x_train, y_train, output)
    except (ModelFileError, DataError, InspectionError, OSError, ValueError) as error:
        print(str(error), file=sys.stderr)
        return 1
    except MemoryError:
        print("it needed more memory than a model may use here", file=sys.stderr)
        return 1
    print(f"{len(index.indices):,} training images embedded in {index.seconds:.1f} s; saved {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
