"""The translation test: the shipped CNN and dense network on the 10,000 test images moved by 0-6 pixels.

Each image is moved s pixels right, left, down and up (zero fill where the image moves away; what leaves the
28x28 frame is lost), and the accuracy of each direction is averaged. `python -m models.explain.shift_test` computes it
once per shipped model pair and writes models/shift_test.json with both model files' SHA-256, so the
Architecture page reads the numbers without TensorFlow (models.design.card.read_shift_test).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np

from models.design.card import DENSE_MODEL, SHIFT_TEST, SHIFT_TEST_COMMAND, SHIPPED_MODEL
from models.inputs.fashion_mnist import load_fashion_mnist

SHIFTS = tuple(range(7))  # pixels
DIRECTIONS = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}  # (rows, columns) per pixel


def shift_images(images: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Images (N, H, W) moved `rows` down and `columns` right (negative: up, left), zero fill, same size."""
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    if abs(rows) >= height or abs(columns) >= width:
        return out
    src_r, dst_r = slice(max(-rows, 0), height - max(rows, 0)), slice(max(rows, 0), height - max(-rows, 0))
    src_c, dst_c = slice(max(-columns, 0), width - max(columns, 0)), slice(max(columns, 0), width - max(-columns, 0))
    out[:, dst_r, dst_c] = images[:, src_r, src_c]
    return out


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of uint8 images (N, 28, 28) whose most likely class is the label."""
    x = images.astype(np.float32)[..., np.newaxis] / 255.0
    predicted = np.argmax(model.predict(x, batch_size=500, verbose=0), axis=1)
    return float(np.mean(predicted == labels))


def shift_accuracy(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, shifts: tuple[int, ...] = SHIFTS
) -> dict[str, list[float]]:
    """Accuracy per direction for every shift, and their mean ('mean'); shift 0 is the unshifted images."""
    result: dict[str, list[float]] = {name: [] for name in DIRECTIONS}
    for shift in shifts:
        unshifted = accuracy(model, images, labels) if shift == 0 else None
        for name, (rows, columns) in DIRECTIONS.items():
            value = (
                unshifted
                if unshifted is not None
                else accuracy(model, shift_images(images, rows * shift, columns * shift), labels)
            )
            result[name].append(value)
    result["mean"] = [float(np.mean([result[name][i] for name in DIRECTIONS])) for i in range(len(shifts))]
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.explain.shift_test", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=SHIFT_TEST)
    args = parser.parse_args(argv)

    from models.networks.zoo import load_model_file

    _, (x_test, y_test) = load_fashion_mnist()
    start = time.perf_counter()
    models = {}
    for key, path in (("cnn", SHIPPED_MODEL), ("dense", DENSE_MODEL)):
        model = load_model_file(path)
        models[key] = {"file": path.name, "sha256": sha256(path), **shift_accuracy(model, x_test, y_test)}
        print(f"{key}: " + ", ".join(f"{s}px {a:.4f}" for s, a in zip(SHIFTS, models[key]["mean"])))
    record = {
        "shifts": list(SHIFTS),
        "directions": list(DIRECTIONS),
        "fill": "zero",
        "test_images": len(x_test),
        "models": models,
    }
    write_record(args.output, record, SHIFT_TEST_COMMAND, start)
    return 0


def write_record(path: Path, record: dict, command: str, start: float) -> None:
    """Save a shipped models' measurement as JSON, with the command that remakes it, its time and its date."""
    record = {
        **record,
        "command": command,
        "seconds": round(time.perf_counter() - start, 1),
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"saved {path}")


if __name__ == "__main__":
    raise SystemExit(main())
