"""An uploaded model loaded, tested and measured in a process of its own: `python -m models.uploaded.trial FOLDER NAME`.

The web server (models.uploaded.store.store_upload) has already judged the file's config.json
(models.uploaded.config_check) and starts this module, which first sets itself a memory limit (RLIMIT_AS), a CPU-time
limit (RLIMIT_CPU), a lower priority and a TensorFlow thread limit; the server waits for it no longer than a
wall-clock limit. So a model still too large for this machine costs this process, never the server's. FOLDER holds
`model.keras` and the test images and labels (`upload_test.npz`). The model is loaded in Keras's safe mode and its
interface checked: one (None, 28, 28, 1) input, as this lab feeds 28x28 grayscale Fashion-MNIST, and one softmax
output over 2 or more classes. What the pages need is written into FOLDER: `arrays.npz` (the first Conv2D layer's
kernels, which Filters shows), `architecture.json` (the layer table, or the layer it cannot describe, and
`model.summary()`) and, for a 10-class model, Inspect's `evaluation.npz` of the test set. The last stdout line is JSON:
`{"record": ...}` (run.json's fields) or `{"error": message}`.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import asdict
from pathlib import Path

import numpy as np

from models.inputs.fashion_mnist import CLASS_NAMES
from models.serving.apart import limit_this_process
from models.training.job_protocol import ARRAYS_FILE, EVALUATION_FILE, MODEL_FILE
from models.training.runs import ARCHITECTURE_FILE, UPLOADED_KERNELS
from models.uploaded.store import TEST_FILE, UploadError, class_names

EXPECTED_INPUT = (None, 28, 28, 1)
MAX_CLASSES = 1000
# How running out of the address-space limit shows, besides MemoryError: a library that cannot be mapped, a failed
# allocation in TensorFlow's C++.
OUT_OF_MEMORY = ("MemoryError", "failed to map segment", "Cannot allocate memory", "bad_alloc", "ResourceExhausted")


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


def class_count(model) -> int:
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


def first_conv(model) -> tuple[str, np.ndarray] | None:
    """The first Conv2D layer's name and its one-channel kernels (k, k, 1, filters), or None without one."""
    conv = next((layer for layer in model.layers if type(layer).__name__ == "Conv2D"), None)
    if conv is None:
        return None
    kernel = np.asarray(conv.kernel, dtype=np.float32)
    return (conv.name, kernel) if kernel.shape[2] == 1 else None


def architecture(model) -> dict:
    """What the Architecture page shows: the layer table's rows (or why there is none), parameters, summary."""
    from models.design.analysis import UnsupportedLayerError, layer_table

    lines: list[str] = []
    model.summary(print_fn=lambda line, *_, **__: lines.append(line), line_length=80)
    try:
        rows, unsupported = [asdict(row) for row in layer_table(model)], None
    except UnsupportedLayerError as error:
        rows, unsupported = None, str(error)
    return {"rows": rows, "unsupported": unsupported, "parameters": model.count_params(), "summary": "\n".join(lines)}


def check(folder: Path, shown: str) -> dict:
    """Load, test and measure the model in `folder`; the run's record (its files written beside it)."""
    from models.design.card import MAX_UPLOAD_UNPACKED, ModelFileError
    from models.explain import inspection as ins
    from models.inputs.fashion_mnist import scale_images
    from models.inputs.images import fingerprint
    from models.networks.zoo import load_model_file

    try:
        model = load_model_file(folder / MODEL_FILE, shown=shown, max_unpacked=MAX_UPLOAD_UNPACKED)
    except ModelFileError as error:
        raise UploadError(str(error)) from None
    classes = class_count(model)
    with np.load(folder / TEST_FILE) as test:
        x_test, y_test = test["images"], test["labels"]
    pixels = scale_images(x_test)
    probabilities = ins.forward(model, pixels[:8])
    if not (np.all(probabilities >= 0) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)):
        raise UploadError("The model's outputs are not probabilities (they do not add up to 1 for each image).")
    accuracy = None
    if classes == len(CLASS_NAMES):
        try:  # Inspect's evaluation, kept with the run: the web server never runs the test set for it
            result = ins.evaluate(model, x_test, y_test)
            ins.write_evaluation(folder / EVALUATION_FILE, result, ins.weights_key(model), fingerprint(x_test))
            predictions = result.predictions
        except ins.InspectionError as error:
            print(f"no evaluation saved: {error}", file=sys.stderr)
            predictions = ins.forward(model, pixels).argmax(axis=1)
        accuracy = float(np.mean(predictions == y_test))
    conv = first_conv(model)
    arrays: dict[str, np.ndarray] = {"batch_curve": np.zeros((0, 3), dtype=np.float32)}
    if conv is not None:
        arrays[UPLOADED_KERNELS] = conv[1]
    np.savez(folder / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]  # numpy's stubs take allow_pickle for **
    (folder / ARCHITECTURE_FILE).write_text(json.dumps(architecture(model)))
    return {
        "config": {
            "uploaded": True,
            "model_name": model.name,
            "classes": classes,
            "class_names": list(class_names(classes)),
            "parameters": model.count_params(),
            "first_conv": None if conv is None else conv[0],
        },
        "test_accuracy": accuracy,
    }


def main(argv: list[str]) -> int:
    """The child process: its memory and CPU limits, priority and threads set first, before TensorFlow loads."""
    if len(argv) != 2:
        print("usage: python -m models.uploaded.trial FOLDER SHOWN_NAME", file=sys.stderr)
        return 2
    limit_this_process()
    answer = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything Keras prints goes to stderr, not into the answer
    try:
        reply: dict = {"record": check(Path(argv[0]), argv[1])}
    except Exception as error:  # the traceback goes to stderr; the learner gets one line
        traceback.print_exc()
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, MemoryError) or any(sign in text for sign in OUT_OF_MEMORY):
            reply = {"error": "memory"}  # the server words it, with the limit
        elif isinstance(error, UploadError):
            reply = {"error": str(error)}
        else:
            reply = {"error": f"The model could not be run ({text[:300]})."}
    answer.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
