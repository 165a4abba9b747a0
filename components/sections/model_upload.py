"""Use your own model: a learner's .keras file checked and kept as one of their runs, or refused with the reason.

The checks and the storing are models.uploaded.store: the file's config.json is judged here without TensorFlow (an
allow-list of layers and caps on its size, models.uploaded.config_check), then the model is loaded, tested and
measured in a process of its own with memory and time limits. The new run then appears in every model choice (Inspect,
Deeper, Predict), on Architecture and in Filters' learned filters.
"""

from __future__ import annotations

import streamlit as st

from components.framework.learner import learner_token
from components.framework.session_keys import INSPECT_MODEL, INSPECT_UPLOAD, INSPECT_UPLOAD_RESULT
from components.resources import fashion_mnist
from components.training_jobs import learner_runs, run_store
from models.design.card import MAX_UPLOAD_BYTES, MAX_UPLOAD_UNPACKED
from models.training.runs import TrainingRun
from models.uploaded.config_check import ALLOWED_LAYERS, MAX_ACTIVATIONS, MAX_MACS, MAX_NESTING, MAX_PARAMETERS
from models.uploaded.store import UploadError, limits, store_upload

EXPECTS = (
    f"A Keras 3 `.keras` file (from `model.save('name.keras')`) of at most {MAX_UPLOAD_BYTES // 2**20} MB "
    f"({MAX_UPLOAD_UNPACKED // 2**20} MB unpacked): one input of shape (None, 28, 28, 1), 28x28 grayscale images "
    "scaled to [0, 1] as Fashion-MNIST is here, and a softmax output over 2 or more classes. It is loaded in "
    "Keras's safe mode: a Lambda layer, a layer from outside Keras or a damaged or oversized archive is refused. "
    "With 10 outputs it is taken as a Fashion-MNIST classifier and its test accuracy is measured; other class "
    "counts are named 'class 0', 'class 1', ...."
)


def caps_text() -> str:
    """What the lab builds at all, read from the file's config.json before anything runs."""
    memory_mb, cpu_seconds, wall_seconds = limits()
    layers = ", ".join(sorted(ALLOWED_LAYERS - {"InputLayer"}))
    return (
        f"**Limits, checked from the file's description before anything is built:** at most {MAX_PARAMETERS:,} "
        f"parameters, {MAX_MACS / 1e6:,.0f} million multiply-accumulates per image and {MAX_ACTIVATIONS:,} "
        f"layer output values per image (the course CNN: 243,786 parameters, 5.1 million, 65,946). Layers: "
        f"{layers}, nested Sequential or Functional models up to {MAX_NESTING} deep. Anything else (Conv2DTranspose, "
        f"UpSampling2D, TFSMLayer, ...) is refused by name. The model is then loaded and measured in a separate "
        f"process with at most {memory_mb:,} MB of memory, {cpu_seconds} s of processor time and {wall_seconds} s "
        "in all."
    )


def upload_label(run: TrainingRun) -> str:
    """'Uploaded: my_cnn (5 classes)' or 'Uploaded: my_cnn, 91.11% test accuracy on Fashion-MNIST'."""
    if run.test_accuracy is None:
        return f"{run.name} ({len(run.class_names)} classes)"
    return f"{run.name}, {run.test_accuracy:.2%} test accuracy on Fashion-MNIST"


def upload_section() -> None:
    """The uploader (in an expander); a new file is checked once and, if usable, becomes the model inspected."""
    result = st.session_state.get(INSPECT_UPLOAD_RESULT)
    with st.expander("Use your own model (.keras)", icon=":material/upload_file:", expanded=result is not None):
        st.markdown(EXPECTS)
        st.caption(caps_text())
        file = st.file_uploader("Your model (.keras)", type=["keras"], key=INSPECT_UPLOAD)
    if file is None:
        st.session_state.pop(INSPECT_UPLOAD_RESULT, None)
        return
    if result is None or result[0] != file.file_id:
        result = (file.file_id, *_store(file.name, file.getvalue()))
        st.session_state[INSPECT_UPLOAD_RESULT] = result
    _, ok, message = result  # under the expander, so it shows even when the expander is closed
    (st.success if ok else st.error)(message, icon=":material/check_circle:" if ok else ":material/error:")


def _store(file_name: str, data: bytes) -> tuple[bool, str]:
    """Check and keep the file; (True, what was stored) and the model choice set to it, or (False, why not)."""
    (_, _), test = fashion_mnist()
    with st.spinner(
        f"Checking {file_name!r}, then loading it in safe mode in a separate process; a 10-class model is measured "
        "on 10,000 test images..."
    ):
        try:
            run = store_upload(run_store(), learner_token(), data, file_name, test)
        except UploadError as error:
            return False, str(error)
    ids = [r.run_id for r in learner_runs()]
    if run.run_id in ids:
        st.session_state[INSPECT_MODEL] = ids.index(run.run_id) + 1  # 0 is the shipped model
    conv = run.config["first_conv"]
    return True, (
        f"Stored as **{upload_label(run)}**, {run.config['parameters']:,} parameters. It is now the model below, "
        "and in the model choice of Deeper and Predict, on Architecture"
        + (f" and in Filters' learned filters ({conv})." if conv else "; without a Conv2D layer it has no filters.")
    )
