"""The classic kernels the lab names (blur, sharpen, Sobel, Prewitt, the course's...), and which of them a
learned 3x3 filter resembles. NumPy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Kernel:
    """A named kernel with a one-line plain-language explanation; weights are read-only."""

    name: str
    weights: np.ndarray
    explanation: str

    def __post_init__(self) -> None:
        weights = np.array(self.weights, dtype=np.float32)
        size = weights.shape[0] if weights.ndim == 2 else 0
        if weights.shape != (size, size) or size % 2 == 0:
            raise ValueError(f"Kernel {self.name!r} must be odd and square, got shape {weights.shape}.")
        weights.setflags(write=False)
        object.__setattr__(self, "weights", weights)


def _kernel(name: str, rows: list[list[float]], explanation: str, scale: float = 1.0) -> Kernel:
    return Kernel(name, np.array(rows, dtype=np.float64) * scale, explanation)


_BINOMIAL_5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0])

KERNELS: dict[str, Kernel] = {
    kernel.name: kernel
    for kernel in [
        _kernel("Identity", [[0, 0, 0], [0, 1, 0], [0, 0, 0]], "Identity: copies each pixel unchanged"),
        _kernel(
            "Box blur 3x3",
            [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
            "Box blur: each pixel becomes the plain average of its 3x3 neighbourhood",
            1 / 9,
        ),
        _kernel(
            "Gaussian blur 3x3",
            [[1, 2, 1], [2, 4, 2], [1, 2, 1]],
            "Gaussian blur: a weighted average that favours the centre, for a soft blur",
            1 / 16,
        ),
        _kernel(
            "Gaussian blur 5x5",
            np.outer(_BINOMIAL_5, _BINOMIAL_5).tolist(),
            "Gaussian blur 5x5: a wider, stronger soft blur",
            1 / 256,
        ),
        _kernel(
            "Sharpen",
            [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
            "Sharpen: boosts each pixel against its neighbours so details stand out",
        ),
        _kernel(
            "Outline (Laplacian 8-neighbour)",
            [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
            "Outline: zero on flat areas, strong wherever a pixel differs from all 8 neighbours",
        ),
        _kernel(
            "Emboss",
            [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
            "Emboss: lights edges from the top-left so the image looks raised",
        ),
        _kernel(
            "Sobel: horizontal edges",
            [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
            "Horizontal edges: responds where brightness changes from top to bottom",
        ),
        _kernel(
            "Sobel: vertical edges",
            [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
            "Vertical edges: responds where brightness changes from left to right",
        ),
        _kernel(
            "Prewitt: horizontal edges",
            [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
            "Horizontal edges (Prewitt): like Sobel but weights the three columns equally",
        ),
        _kernel(
            "Prewitt: vertical edges",
            [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
            "Vertical edges (Prewitt): like Sobel but weights the three rows equally",
        ),
        _kernel(
            "Course: Laplacian",
            [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
            "Course Laplacian: compares each pixel with its 4 direct neighbours; highlights outlines",
        ),
        _kernel(
            "Course: horizontal lines",
            [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
            "Course horizontal lines: the Sobel horizontal-edge kernel (top-to-bottom changes)",
        ),
        _kernel(
            "Course: vertical lines",
            [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
            "Course vertical lines: the Sobel vertical-edge kernel (left-to-right changes)",
        ),
    ]
}


def _similarity_candidates() -> dict[str, np.ndarray]:
    """Unit-length, mean-removed patterns of the distinct 3x3 library kernels.

    Left out: the box blur (flat, so no pattern once its mean is removed), the
    identity (its mean-removed pattern is exactly the outline kernel's) and the
    course copies of the Sobel kernels (the Sobel names are reported instead).
    """
    candidates: dict[str, np.ndarray] = {}
    for name, kernel in KERNELS.items():
        if kernel.weights.shape != (3, 3) or name in {"Identity", "Box blur 3x3"}:
            continue
        pattern = kernel.weights.astype(np.float64).ravel()
        pattern -= pattern.mean()
        pattern /= np.linalg.norm(pattern)
        if not any(np.allclose(pattern, seen) for seen in candidates.values()):
            candidates[name] = pattern
    return candidates


_SIMILARITY_CANDIDATES = _similarity_candidates()


def most_similar_kernel(weights3x3: np.ndarray) -> tuple[str, float]:
    """Name the library 3x3 kernel whose pattern best matches these weights, with a signed score.

    Both are compared after removing their mean (so brightness offsets and scale
    do not matter) by cosine similarity; the kernel with the largest absolute
    similarity wins. The score is signed: near +1 means the same pattern, near -1
    the inverted pattern (e.g. -0.97 for "Sobel: vertical edges" means it responds
    to brightness falling, not rising, from left to right).
    """
    weights = np.asarray(weights3x3, dtype=np.float64)
    if weights.shape != (3, 3):
        raise ValueError(f"Expected 3x3 weights, got shape {weights.shape}.")
    if not np.all(np.isfinite(weights)):
        raise ValueError("The weights contain NaN or infinite values.")
    pattern = weights.ravel() - weights.mean()
    norm = np.linalg.norm(pattern)
    if norm <= 1e-12 * max(1.0, float(np.abs(weights).max())):
        raise ValueError("All nine weights are equal: the kernel has no pattern to compare.")
    scores = {name: float(pattern @ candidate) / norm for name, candidate in _SIMILARITY_CANDIDATES.items()}
    best = max(scores, key=lambda name: abs(scores[name]))
    return best, float(np.clip(scores[best], -1.0, 1.0))


def filters_first(kernel: np.ndarray) -> np.ndarray:
    """One-channel conv kernels in Keras's layout (..., k, k, 1, filters) as (..., filters, k, k), contiguous."""
    kernel = np.asarray(kernel)
    if kernel.ndim < 4 or kernel.shape[-2] != 1:
        raise ValueError(f"Expected one-channel kernels (..., k, k, 1, filters), got shape {kernel.shape}.")
    return np.ascontiguousarray(np.moveaxis(kernel[..., 0, :], -1, -3))
