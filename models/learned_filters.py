"""The shipped model's first-layer filters over training, as (epochs + 1, filters, k, k) arrays.

`models.card.read_filter_snapshots` reads them (no TensorFlow) in Keras's layout
(epochs + 1, k, k, 1, filters): index 0 is the random initialisation, index e the
weights after epoch e.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.convolution import Padding, convolve2d
from models.kernels import filters_first, most_similar_kernel


@dataclass(frozen=True, eq=False)
class LearnedFilters:
    """`history[e, f]` is filter f's k x k weights after epoch e (e = 0: at initialisation)."""

    history: np.ndarray

    @classmethod
    def from_snapshots(cls, kernels: np.ndarray) -> LearnedFilters:
        """From Keras-layout snapshots (epochs + 1, k, k, 1, filters) of a one-channel first layer."""
        kernels = np.asarray(kernels, dtype=np.float32)
        if kernels.ndim != 5 or kernels.shape[3] != 1 or kernels.shape[1] != kernels.shape[2]:
            raise ValueError(f"Expected snapshots of shape (epochs + 1, k, k, 1, filters), got {kernels.shape}.")
        history = filters_first(kernels)
        history.setflags(write=False)
        return cls(history)

    @property
    def epochs(self) -> int:
        return self.history.shape[0] - 1

    @property
    def count(self) -> int:
        return self.history.shape[1]

    @property
    def initial(self) -> np.ndarray:
        return self.history[0]

    @property
    def trained(self) -> np.ndarray:
        return self.history[-1]


@dataclass(frozen=True)
class FilterLabel:
    """The library kernel a learned filter most resembles, with the signed cosine similarity."""

    index: int
    kernel_name: str
    cosine: float

    @property
    def text(self) -> str:
        """E.g. "Filter 17 ≈ Sobel: horizontal edges (cosine 0.91)"; negative scores say "inverted"."""
        inverted = ", inverted" if self.cosine < 0 else ""
        return f"Filter {self.index} \u2248 {self.kernel_name} (cosine {self.cosine:.2f}{inverted})"


def label_filters(kernels: np.ndarray) -> list[FilterLabel]:
    """Label each 3x3 kernel of (n, 3, 3) `kernels` with its most similar library kernel."""
    return [FilterLabel(index, *most_similar_kernel(weights)) for index, weights in enumerate(kernels)]


def filter_responses(
    image2d: np.ndarray, kernels: np.ndarray, *, stride: int = 1, padding: Padding = "valid"
) -> np.ndarray:
    """`convolve2d` of one (H, W) image with each of (n, k, k) `kernels`: (n, H', W') float32."""
    return np.stack([convolve2d(image2d, weights, stride=stride, padding=padding) for weights in kernels])
