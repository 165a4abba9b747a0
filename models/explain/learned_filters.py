"""The shipped model's first-layer filters over training, as (epochs + 1, filters, k, k) arrays.

`models.design.card.read_filter_snapshots` reads them (no TensorFlow) in Keras's layout
(epochs + 1, k, k, 1, filters): index 0 is the random initialisation, index e the
weights after epoch e.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.ops.convolution import Padding, convolve2d
from models.ops.kernels import NO_CLOSE_KERNEL, KernelMatch, filters_first, most_similar_kernel


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
    """The library kernel a learned filter resembles most (`match`), named only when it beats chance."""

    index: int
    match: KernelMatch

    @property
    def kernel_name(self) -> str:
        """The kernel's name (", inverted" for a negative cosine), or "no close classic kernel"."""
        return self.match.name

    @property
    def cosine(self) -> float:
        return self.match.cosine

    @property
    def short(self) -> str:
        """E.g. "#17 ≈ Sobel: horizontal edges (+0.91)" or "#0: no close classic kernel"."""
        return self.brief("#")

    def brief(self, prefix: str) -> str:
        """The name and cosine without the chance level, after `prefix` and the filter number."""
        if self.match.close:
            return f"{prefix}{self.index} \u2248 {self.kernel_name} ({self.cosine:+.2f})"
        return f"{prefix}{self.index}: {NO_CLOSE_KERNEL}"

    @property
    def text(self) -> str:
        """E.g. "Filter 17 ≈ Sobel: horizontal edges (cosine +0.91, chance 95th percentile 0.78)"."""
        separator = " " if self.match.close else ": "
        return f"Filter {self.index}{separator}{self.match.text}"


def label_filters(kernels: np.ndarray) -> list[FilterLabel]:
    """Label each 3x3 kernel of (n, 3, 3) `kernels` with its most similar library kernel."""
    return [FilterLabel(index, most_similar_kernel(weights)) for index, weights in enumerate(kernels)]


def filter_responses(
    image2d: np.ndarray, kernels: np.ndarray, *, stride: int = 1, padding: Padding = "valid", dilation: int = 1
) -> np.ndarray:
    """`convolve2d` of one (H, W) image with each of (n, k, k) `kernels`: (n, H', W') float32."""
    return np.stack(
        [convolve2d(image2d, weights, stride=stride, padding=padding, dilation=dilation) for weights in kernels]
    )
