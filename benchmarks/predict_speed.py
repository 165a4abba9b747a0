"""The Predict page's costs and how faithful its preprocessing is, against plain Keras in the same process.

Run from the repository root: ``python benchmarks/predict_speed.py``. Prints
- the one-off embedding of the neighbour index (models.explain.neighbours.build_index) vs a plain `model.predict`
  on the same training images;
- one prediction as the page makes it (preprocess a photo + one pass returning every feature map, the
  embedding and the probabilities) vs a plain `model(x)` call on an already-prepared 28x28 input;
- round-trip agreement: the shipped model's predictions on test images after the pipeline vs on the
  untouched images (cropped, uncropped, and as light-background "photos" with and without inversion).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from models.explain import inspection as ins  # noqa: E402
from models.explain.neighbours import INDEX_SIZE, build_index  # noqa: E402
from models.inputs.fashion_mnist import load_fashion_mnist  # noqa: E402
from models.inputs.preprocess import photo_like, preprocess  # noqa: E402
from models.networks.zoo import load_model_file  # noqa: E402

ROUND_TRIP = 1_000  # test images, evenly spread
LATENCY_RUNS = 20


def seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> int:
    (x_train, y_train), (x_test, _) = load_fashion_mnist()
    model = load_model_file()
    model.predict(x_test[:256, ..., None] / 255.0, verbose=0)  # warm up

    chosen = ins.subset(len(x_train), INDEX_SIZE)
    plain = seconds(lambda: model.predict(x_train[chosen, ..., None] / 255.0, batch_size=256, verbose=0))
    build = seconds(lambda: build_index(model, x_train, y_train))
    print(
        f"Embedding index of {INDEX_SIZE:,} training images: {build:.2f} s; plain model.predict {plain:.2f} s; "
        f"ratio {build / plain:.2f}"
    )

    photo = photo_like(x_test[0])
    layers = [*ins.spatial_layers(model), ins.embedding_layer(model), model.layers[-1].name]
    prepared = preprocess(photo).network_input[None, ..., None]

    def page_prediction() -> None:
        ins.layer_activations(model, preprocess(photo).pixels, layers)

    page_prediction()
    page = statistics.median(seconds(page_prediction) for _ in range(LATENCY_RUNS))
    preprocessing = statistics.median(seconds(lambda: preprocess(photo)) for _ in range(LATENCY_RUNS))
    call = statistics.median(seconds(lambda: model(prepared, training=False)) for _ in range(LATENCY_RUNS))
    print(
        f"One prediction as the page makes it: {page * 1000:.0f} ms (preprocessing {preprocessing * 1000:.1f} ms); "
        f"plain model(x) {call * 1000:.0f} ms; ratio {page / call:.1f} (medians of {LATENCY_RUNS})"
    )

    indices = np.linspace(0, len(x_test) - 1, ROUND_TRIP).astype(int)
    reference = model.predict(x_test[indices, ..., None] / 255.0, verbose=0).argmax(axis=1)

    def agreement(images, **options) -> float:
        pixels = np.stack([preprocess(image, **options).pixels for image in images])
        return float(np.mean(model.predict(pixels[..., None] / 255.0, verbose=0).argmax(axis=1) == reference))

    items = [x_test[i] / 255.0 for i in indices]
    photos = [photo_like(x_test[i], seed=int(i)) for i in indices]
    print(
        f"Round trip on {ROUND_TRIP:,} test images, predictions kept: "
        f"cropped {agreement(items):.1%}, uncropped {agreement(items, crop=False):.1%}; "
        f"as photos {agreement(photos):.1%}, photos without inversion {agreement(photos, invert='off'):.1%}, "
        f"photos uncropped {agreement(photos, crop=False):.1%}, "
        f"photos without background to black {agreement(photos, darken=False):.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
