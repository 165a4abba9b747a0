"""Nearest training images in a model's embedding (its last hidden layer), by cosine similarity.

`build_index` runs the model (TensorFlow, imported lazily); `nearest` is plain NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

INDEX_SIZE = 12_000  # training images embedded once per server: ~20% of the training set


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
    from models import inspection as ins  # imports TensorFlow

    chosen = ins.subset(len(images), size, seed)
    result = ins.evaluate(model, images[chosen], labels[chosen])
    vectors = unit_rows(result.embedding)
    for array in (chosen, vectors):
        array.setflags(write=False)
    return NeighbourIndex(chosen, result.labels, vectors, result.embedding_layer, result.seconds)


def nearest(index: NeighbourIndex, vector: np.ndarray, count: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The `count` most cosine-similar entries to one embedding `vector`: (training-set indices, similarities),
    most similar first (ties by training index)."""
    query = unit_rows(np.ravel(vector))[0]
    if query.shape[0] != index.unit_vectors.shape[1]:
        raise ValueError(f"The vector has {query.shape[0]} values but the index holds {index.unit_vectors.shape[1]}.")
    similarities = index.unit_vectors @ query
    order = np.lexsort((index.indices, -similarities))[:count]
    return index.indices[order], similarities[order]
