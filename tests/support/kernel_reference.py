"""An independent reference for naming learned 3x3 filters: the cosine of the raw weights against each distinct
library kernel, and the chance level of random Glorot-uniform filters, written without models.ops.kernels' helpers."""

import numpy as np

from models.ops.kernels import KERNELS


def library_3x3() -> dict[str, np.ndarray]:
    """Unit vectors of the 3x3 library kernels, the course copies of the Sobel kernels left out."""
    return {
        name: kernel.weights.ravel() / np.linalg.norm(kernel.weights)
        for name, kernel in KERNELS.items()
        if kernel.weights.shape == (3, 3) and name not in {"Course: horizontal lines", "Course: vertical lines"}
    }


def reference_best(kernels: np.ndarray) -> list[tuple[str, float]]:
    """Per (3, 3) kernel: the library kernel with the largest |cosine| and the signed cosine, by a plain loop."""
    library = library_3x3()
    results = []
    for weights in np.asarray(kernels, dtype=np.float64):
        vector = weights.ravel() / np.linalg.norm(weights)
        scores = {name: float(vector @ unit) for name, unit in library.items()}
        best = max(scores, key=lambda name: abs(scores[name]))
        results.append((best, scores[best]))
    return results


def reference_chance(count: int, seed: int, limit: float, percentile: float = 95) -> float:
    """The `percentile` of the best |cosine| of `count` random uniform(-limit, limit) 3x3 kernels."""
    draws = np.random.default_rng(seed).uniform(-limit, limit, size=(count, 3, 3))
    return float(np.percentile([abs(score) for _, score in reference_best(draws)], percentile))
