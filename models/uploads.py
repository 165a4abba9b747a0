"""A learner's own .keras model: checked, refused with the reason, or stored as one of their runs (TensorFlow).

The file goes through the shipped model's checks (`models.card.check_model_archive`: zip, zip bomb, Lambda
layers, modules outside Keras, oversized config; then `keras.models.load_model(..., safe_mode=True)`), then its
interface: one (None, 28, 28, 1) input, as this lab feeds 28x28 grayscale Fashion-MNIST, and one softmax output
over 2 or more classes. What the TensorFlow-free pages need is written beside the run when it is stored:
`architecture.json` (the layer table, or the layer it cannot describe, and `model.summary()`) and the first
Conv2D layer's kernels in `arrays.npz`, so Architecture and Filters read them without loading the model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from models.analysis import UnsupportedLayerError, layer_table
from models.card import MAX_UPLOAD_BYTES, MAX_UPLOAD_UNPACKED, ModelFileError
from models.data import CLASS_NAMES, scale_images
from models.inspection import forward
from models.job_protocol import ARRAYS_FILE, MODEL_FILE, RUN_FILE
from models.quota import QuotaExceeded
from models.runs import ARCHITECTURE_FILE, UPLOADED_KERNELS, RunStore, TrainingRun
from models.zoo import load_model_file

EXPECTED_INPUT = (None, 28, 28, 1)
MAX_CLASSES = 1000
NAME_LENGTH = 60


class UploadError(ValueError):
    """A model file the lab cannot use; the message says what it expects and why."""


def _shape(tensor) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in tensor.shape)


def _images_text(shape: tuple[int | None, ...]) -> str:
    """(None, 32, 32, 3) -> '32x32x3 colour images'; other shapes as Keras writes them."""
    if len(shape) == 4:
        size = "x".join("any" if d is None else str(d) for d in shape[1:])
        kind = {1: "grayscale images", 3: "colour (RGB) images"}.get(shape[3] or 0, "images")
        return f"{size} {kind}"
    return f"inputs of shape {shape}"


def is_softmax(layer) -> bool:
    """Whether a layer ends in a softmax (a Dense or Conv with activation='softmax', Activation or Softmax)."""
    if type(layer).__name__ == "Softmax":
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") == "softmax"


def class_count(model: keras.Model) -> int:
    """The classes of a model the lab can use; UploadError saying what it expects and why otherwise."""
    feeds = "this lab feeds 28x28 grayscale Fashion-MNIST images, shape (None, 28, 28, 1)"
    if len(model.inputs) != 1:
        raise UploadError(f"The model takes {len(model.inputs)} inputs; {feeds}, one input only.")
    shape = _shape(model.inputs[0])
    if shape != EXPECTED_INPUT:
        raise UploadError(
            f"The model expects {_images_text(shape)} (input shape {shape}); {feeds}, so its first layer cannot "
            "take them. Rebuild it with keras.Input((28, 28, 1)) and train it on Fashion-MNIST-sized images."
        )
    if len(model.outputs) != 1:
        raise UploadError(f"The model has {len(model.outputs)} outputs; the lab needs one: a probability per class.")
    out = _shape(model.outputs[0])
    if len(out) != 2 or out[1] is None or out[1] < 2:
        what = "one number per image (a regression or a single score)" if out == (None, 1) else f"shape {out}"
        raise UploadError(
            f"The model outputs {what}; the lab needs a probability for each of 2 or more classes (shape "
            "(None, classes), a softmax output), to show what it predicts and why."
        )
    if out[1] > MAX_CLASSES:
        raise UploadError(f"The model has {out[1]:,} outputs; the lab shows at most {MAX_CLASSES:,} classes.")
    if not is_softmax(model.layers[-1]):
        raise UploadError(
            f"The model's last layer ({model.layers[-1].name}) is not a softmax, so its {out[1]} outputs are not "
            "probabilities that add up to 1; the lab needs a softmax output (Dense(classes, activation='softmax'))."
        )
    return int(out[1])


def class_names(classes: int) -> tuple[str, ...]:
    """Fashion-MNIST's names for a 10-class model, 'class 0', 'class 1', ... otherwise."""
    return CLASS_NAMES if classes == len(CLASS_NAMES) else tuple(f"class {i}" for i in range(classes))


def first_conv(model: keras.Model) -> tuple[str, np.ndarray] | None:
    """The first Conv2D layer's name and its one-channel kernels (k, k, 1, filters), or None without one."""
    conv = next((layer for layer in model.layers if type(layer).__name__ == "Conv2D"), None)
    if conv is None:
        return None
    kernel = np.asarray(conv.kernel, dtype=np.float32)
    return (conv.name, kernel) if kernel.shape[2] == 1 else None


def architecture(model: keras.Model) -> dict:
    """What the Architecture page shows: the layer table's rows (or why there is none), parameters, summary."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *_, **__: lines.append(line), line_length=80)
    try:
        rows, unsupported = [asdict(row) for row in layer_table(model)], None
    except UnsupportedLayerError as error:
        rows, unsupported = None, str(error)
    return {"rows": rows, "unsupported": unsupported, "parameters": model.count_params(), "summary": "\n".join(lines)}


def display_name(file_name: str) -> str:
    """The run's name from the file's: letters, digits and a few signs, at most NAME_LENGTH characters."""
    stem = re.sub(r"[^\w .()+-]+", "_", Path(file_name).name.removesuffix(".keras")).strip() or "model"
    return f"Uploaded: {stem[:NAME_LENGTH]}"


def store_upload(
    store: RunStore, token: str, data: bytes, file_name: str, test: tuple[np.ndarray, np.ndarray]
) -> TrainingRun:
    """Check a learner's .keras file and keep it as one of their runs; UploadError (ModelFileError) says why not.

    `test` is Fashion-MNIST's test images and labels: a 10-class model's test accuracy is measured on them.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"The file is {len(data) / 2**20:,.1f} MB; the limit is {MAX_UPLOAD_BYTES / 2**20:,.0f} MB "
            "(the course CNN's file is about 3 MB)."
        )
    start = time.perf_counter()
    staging = store.staging_folder()
    try:
        (staging / MODEL_FILE).write_bytes(data)
        try:
            model = load_model_file(
                staging / MODEL_FILE, shown=repr(Path(file_name).name), max_unpacked=MAX_UPLOAD_UNPACKED
            )
        except ModelFileError as error:
            raise UploadError(str(error)) from None
        classes = class_count(model)
        x_test, y_test = test
        pixels = scale_images(x_test)
        probabilities = forward(model, pixels[:8])
        if not (np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)):
            raise UploadError("The model's outputs are not probabilities (they do not add up to 1 for each image).")
        accuracy = None
        if classes == len(CLASS_NAMES):
            accuracy = float(np.mean(forward(model, pixels).argmax(axis=1) == y_test))
        conv = first_conv(model)
        arrays: dict[str, np.ndarray] = {"batch_curve": np.zeros((0, 3), dtype=np.float32)}
        if conv is not None:
            arrays[UPLOADED_KERNELS] = conv[1]
        np.savez(staging / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]  # numpy's stubs take allow_pickle for **
        (staging / ARCHITECTURE_FILE).write_text(json.dumps(architecture(model)))
        record = {
            "name": display_name(file_name),
            "config": {
                "uploaded": True,
                "file_name": Path(file_name).name[:200],
                "model_name": model.name,
                "classes": classes,
                "class_names": list(class_names(classes)),
                "parameters": model.count_params(),
                "first_conv": None if conv is None else conv[0],
            },
            "history": {},
            "test_accuracy": accuracy,
            "seconds": time.perf_counter() - start,
            "epochs_done": 0,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        temporary = staging / f"{RUN_FILE}.tmp"
        temporary.write_text(json.dumps(record))
        os.replace(temporary, staging / RUN_FILE)
        try:
            return store.commit(token, staging)
        except QuotaExceeded as error:  # the disk quota (models.quota), checked before the run is moved in
            raise UploadError(str(error)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already once committed
