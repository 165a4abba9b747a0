"""Time convolve2d against scipy.ndimage.correlate on a 1024 x 1024 x 3 image ("same" padding).

Run from the repository root: ``python benchmarks/convolve_speed.py``.
Prints best-of-N times and the ratio convolve2d / SciPy per channel; the target is <= 1.5.
"""

from __future__ import annotations

import gzip
import sys
import timeit
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.ops.convolution import convolve2d  # noqa: E402
from models.ops.kernels import KERNELS  # noqa: E402

FASHION_TEST_IMAGES = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
TARGET_RATIO = 1.5
REPEATS, NUMBER = 7, 5


def test_image() -> np.ndarray:
    """A 1024 x 1024 x 3 float32 image: three Fashion-MNIST garments upscaled, one per channel."""
    with gzip.open(FASHION_TEST_IMAGES, "rb") as stream:
        raw = stream.read(16 + 3 * 28 * 28)
    garments = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(3, 28, 28).astype(np.float32) / 255
    upscaled = np.kron(garments, np.ones((37, 37), np.float32))[:, :1024, :1024]  # 1036 -> crop 1024
    return np.ascontiguousarray(np.moveaxis(upscaled, 0, -1))


def best_time(function) -> float:
    return min(timeit.repeat(function, repeat=REPEATS, number=NUMBER)) / NUMBER


def main() -> int:
    image = test_image()
    worst = 0.0
    for name in ("Sobel: vertical edges", "Gaussian blur 5x5"):
        kernel = KERNELS[name].weights
        ours = convolve2d(image, kernel, padding="same")
        reference = np.stack(
            [ndimage.correlate(image[..., c], kernel, mode="constant", cval=0.0) for c in range(3)], axis=-1
        )
        np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-6)
        ours_time = best_time(lambda kernel=kernel: convolve2d(image, kernel, padding="same"))
        scipy_time = best_time(
            lambda kernel=kernel: [
                ndimage.correlate(image[..., c], kernel, mode="constant", cval=0.0) for c in range(3)
            ]
        )
        ratio = ours_time / scipy_time
        worst = max(worst, ratio)
        size = kernel.shape[0]
        print(
            f"{size}x{size} {name:<22} convolve2d {ours_time * 1e3:7.2f} ms   "
            f"scipy per channel {scipy_time * 1e3:7.2f} ms   ratio {ratio:.2f}"
        )
    verdict = "OK" if worst <= TARGET_RATIO else "TOO SLOW"
    print(f"worst ratio {worst:.2f} (target <= {TARGET_RATIO}): {verdict}")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
