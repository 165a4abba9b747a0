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
    """Unit-length weights of the distinct 3x3 library kernels (the course copies of the Sobel kernels are left
    out: the Sobel names are reported instead)."""
    candidates: dict[str, np.ndarray] = {}
    for name, kernel in KERNELS.items():
        if kernel.weights.shape != (3, 3):
            continue
        pattern = kernel.weights.astype(np.float64).ravel()
        pattern /= np.linalg.norm(pattern)
        if not any(abs(float(pattern @ seen)) > 1 - 1e-9 for seen in candidates.values()):
            candidates[name] = pattern
    return candidates


_SIMILARITY_CANDIDATES = _similarity_candidates()
_CANDIDATE_NAMES = tuple(_SIMILARITY_CANDIDATES)
_CANDIDATE_MATRIX = np.stack(list(_SIMILARITY_CANDIDATES.values()))


def best_matches(kernels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """For (n, 3, 3) weights: the best library kernel's name and the signed cosine similarity, per kernel.

    The cosine similarity of the nine weights themselves (their sum included, so a blur and a zero-sum bar
    differ); the kernel with the largest |cosine| wins and the sign is kept (-1 = the inverted pattern).
    All-zero kernels get score 0.
    """
    flat = np.asarray(kernels, dtype=np.float64).reshape(len(kernels), -1)
    norms = np.linalg.norm(flat, axis=1)
    scores = (flat @ _CANDIDATE_MATRIX.T) / np.where(norms > 0, norms, 1.0)[:, np.newaxis]
    best = np.abs(scores).argmax(axis=1)
    return [_CANDIDATE_NAMES[i] for i in best], np.clip(scores[np.arange(len(flat)), best], -1.0, 1.0)


# ---------------------------------------------------------------- what random filters reach

FIRST_LAYER_SHAPE = (3, 3, 1, 64)  # the course CNN's first Conv2D kernel in Keras's layout
CHANCE_PERCENTILE = 95
CHANCE_SAMPLES = 100_000
CHANCE_SEED = 17


def glorot_uniform_limit(shape: tuple[int, ...]) -> float:
    """Keras's glorot_uniform bound for a conv kernel (k, k, in, out): sqrt(6 / (fan_in + fan_out))."""
    receptive = int(np.prod(shape[:-2]))
    fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
    return float(np.sqrt(6.0 / (fan_in + fan_out)))


def random_first_layer_kernels(count: int, seed: int = CHANCE_SEED) -> np.ndarray:
    """`count` 3x3 kernels drawn as Keras initialises the course CNN's first layer: (count, 3, 3)."""
    limit = glorot_uniform_limit(FIRST_LAYER_SHAPE)
    return np.random.default_rng(seed).uniform(-limit, limit, size=(count, 3, 3))


def _chance_threshold() -> float:
    _, scores = best_matches(random_first_layer_kernels(CHANCE_SAMPLES))
    return float(np.percentile(np.abs(scores), CHANCE_PERCENTILE))


CHANCE_THRESHOLD = _chance_threshold()  # 95% of random initial filters match some library kernel less well
NO_CLOSE_KERNEL = "no close classic kernel"


@dataclass(frozen=True)
class KernelMatch:
    """The library kernel a 3x3 filter resembles most, the signed cosine, and what random filters reach."""

    best: str
    cosine: float
    chance: float = CHANCE_THRESHOLD

    @property
    def close(self) -> bool:
        """Whether the match beats the 95th percentile of random initial filters' best matches."""
        return abs(self.cosine) > self.chance

    @property
    def name(self) -> str:
        """The kernel's name ("..., inverted" for a negative cosine) or "no close classic kernel"."""
        if not self.close:
            return NO_CLOSE_KERNEL
        return f"{self.best}, inverted" if self.cosine < 0 else self.best

    @property
    def score(self) -> str:
        """E.g. "cosine -0.93, chance 95th percentile 0.78"."""
        return f"cosine {self.cosine:+.2f}, chance {CHANCE_PERCENTILE}th percentile {self.chance:.2f}"

    @property
    def text(self) -> str:
        """E.g. "≈ Sobel: vertical edges, inverted (cosine -0.93, chance 95th percentile 0.78)", or "no close
        classic kernel (best Sharpen: cosine +0.41, chance 95th percentile 0.78)"."""
        if self.close:
            return f"\u2248 {self.name} ({self.score})"
        return f"{NO_CLOSE_KERNEL} (best {self.best}: {self.score})"


def most_similar_kernel(weights3x3: np.ndarray) -> KernelMatch:
    """The library 3x3 kernel whose weights best match these, with the signed cosine similarity.

    Cosine similarity of the nine weights (scale does not matter; the sum does, so a zero-sum bar is not a
    blur). Near +1 means the same pattern, near -1 the inverted pattern (e.g. -0.97 for "Sobel: vertical
    edges" means it responds to brightness falling, not rising, from left to right). `KernelMatch.close`
    says whether the match beats what random initial filters reach.
    """
    weights = np.asarray(weights3x3, dtype=np.float64)
    if weights.shape != (3, 3):
        raise ValueError(f"Expected 3x3 weights, got shape {weights.shape}.")
    if not np.all(np.isfinite(weights)):
        raise ValueError("The weights contain NaN or infinite values.")
    if not np.any(weights):
        raise ValueError("All nine weights are zero: the kernel has no pattern to compare.")
    names, scores = best_matches(weights[np.newaxis])
    return KernelMatch(names[0], float(scores[0]))


def filters_first(kernel: np.ndarray) -> np.ndarray:
    """One-channel conv kernels in Keras's layout (..., k, k, 1, filters) as (..., filters, k, k), contiguous."""
    kernel = np.asarray(kernel)
    if kernel.ndim < 4 or kernel.shape[-2] != 1:
        raise ValueError(f"Expected one-channel kernels (..., k, k, 1, filters), got shape {kernel.shape}.")
    return np.ascontiguousarray(np.moveaxis(kernel[..., 0, :], -1, -3))
