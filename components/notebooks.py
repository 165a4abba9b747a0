"""'Download as notebook': a run's or a design's Keras code as a .ipynb (models.training.export), built once per
spec."""

from __future__ import annotations

import json

import streamlit as st

from models.training.export import DATASET_FILE, notebook_text
from models.training.recipes import RunSpec

NOTEBOOK_HELP = (
    "A Jupyter notebook with this run's Keras code in steps: the data, the model, compile, fit with its recipe and "
    "seed, evaluate, the learning curves and a confusion matrix. It needs only the lab's requirements.txt."
)


@st.cache_data(max_entries=64, show_spinner=False)
def notebook_file(
    payload: str,
    title: str,
    test_accuracy: float | None,
    class_names: tuple[str, ...] | None = None,
    dataset_file: str = DATASET_FILE,
) -> bytes:
    """The .ipynb of the spec `payload` (RunSpec.to_payload() as JSON, so the cache key is plain text)."""
    spec = RunSpec.from_payload(json.loads(payload))
    return notebook_text(
        spec, title=title, test_accuracy=test_accuracy, class_names=class_names, dataset_file=dataset_file
    ).encode()


def notebook_button(
    spec: RunSpec,
    *,
    title: str,
    file_name: str,
    test_accuracy: float | None = None,
    key: str | None = None,
    class_names: tuple[str, ...] | None = None,
    dataset_file: str = DATASET_FILE,
) -> None:
    """A download button for the notebook of `spec` (no rerun when clicked: the file is ready). A run on the
    learner's own images passes its class names and the file name of its dataset zip, which the notebook reads."""
    try:
        data = notebook_file(
            json.dumps(spec.to_payload(), sort_keys=True),
            title,
            test_accuracy,
            class_names if spec.dataset else None,
            dataset_file,
        )
    except ValueError as error:  # a spec that cannot train (ConfigError too): say why, no button
        st.caption(f"No notebook for this one: {error}")
        return
    st.download_button(
        "Download as notebook (.ipynb)",
        data=data,
        file_name=f"{file_name}.ipynb",
        mime="application/x-ipynb+json",
        icon=":material/download:",
        help=NOTEBOOK_HELP
        + (f" It reads the dataset zip, {dataset_file}, from its own folder." if spec.dataset else ""),
        on_click="ignore",
        key=key,
    )
