"""The Architecture page's uploaded models: the layer table and model.summary() of a learner's own .keras file.

Both were read from the model when it was uploaded (models.uploaded.store writes them beside the run), so this page
still loads no TensorFlow.
"""

from __future__ import annotations

import streamlit as st

from components.framework.session_keys import ARCHITECTURE_UPLOADED
from components.sections.model_upload import upload_label
from components.training_jobs import learner_runs
from models.design.analysis import LayerRow, shape_text, sum_text, table_records, totals
from models.training.runs import TrainingRun

UPLOAD_WHERE = "the [Inspect](inspect) page's *Use your own model*"


def uploaded_rows(run: TrainingRun) -> list[LayerRow] | None:
    """The uploaded model's layer table as saved, None when it has a layer the table does not describe."""
    saved = run.architecture()["rows"]
    if saved is None:
        return None
    return [LayerRow(**{**row, "output_shape": tuple(row["output_shape"])}) for row in saved]


def uploaded_section() -> None:
    """An expander with the layer table and summary of one of the learner's uploaded models; nothing without one."""
    runs = {run.run_id: run for run in learner_runs() if run.uploaded}
    if not runs:
        return
    with st.expander(
        f"Your own model{'s' * (len(runs) > 1)}: layers, shapes and arithmetic", icon=":material/upload_file:"
    ):
        _uploaded_runs_section(runs)


def _uploaded_runs_section(runs: dict[str, TrainingRun]) -> None:
    ids = list(runs)
    if st.session_state.get(ARCHITECTURE_UPLOADED) not in ids:
        st.session_state[ARCHITECTURE_UPLOADED] = ids[-1]
    chosen = st.selectbox("Uploaded model", ids, format_func=lambda i: upload_label(runs[i]), key=ARCHITECTURE_UPLOADED)
    st.caption(f"Upload another on {UPLOAD_WHERE}.")
    run = runs[chosen]
    saved = run.architecture()
    rows = uploaded_rows(run)
    if rows is None:
        st.info(
            f"The layer table covers Conv2D (square kernels, stride 1), max and average pooling, Flatten, Dense "
            f"and Dropout; it cannot describe this model: {saved['unsupported']}. Keras's own summary is below.",
            icon=":material/info:",
        )
    else:
        total = totals(rows)
        st.markdown(
            f"**{run.config['model_name']}**: {len(rows) - 1} layers, {total.params:,} parameters, "
            f"{total.macs:,} multiply-accumulates per image, {len(run.class_names)} classes; input "
            f"{shape_text(rows[0].output_shape)}, output {shape_text(rows[-1].output_shape)}."
        )
        st.table(table_records(rows))
        st.caption(f"Parameters: {sum_text(rows, 'params')}. MACs per image: {sum_text(rows, 'macs')}.")
    st.markdown("**model.summary()**")
    st.code(saved["summary"], language=None)
    st.caption(
        f"As Keras prints it; its {saved['parameters']:,} trainable and non-trainable weights are the network. "
        "Optimizer params, if the file kept its optimizer, are saved with it but are not part of the network."
    )
