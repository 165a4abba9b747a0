"""The Training page's finished runs: compared in a table and on one chart, and one run looked at closely
(its learning curves, its first-layer filters over the epochs, its files)."""

from __future__ import annotations

import re

import streamlit as st

from components.catalog import ALL_PAGES
from components.charts.alt import figure_alt
from components.charts.training import feature_maps_figure, filters_figure, overlay_figure
from components.framework.learner import forget_browser, learner_token
from components.framework.phone import on_phone
from components.notebooks import notebook_button
from components.presentation import presenting
from components.sections import training_own_data as own
from components.training_jobs import CHART_CONFIG, curves, run_headline, run_store, storage_caption
from models.inputs.own_data import DatasetError
from models.training.export import DATASET_FILE
from models.training.runs import TrainingRun, comparison_rows


def file_slug(name: str) -> str:
    """A run's name as a file name: 'Run 2: course CNN, 1 epoch' -> 'run-2-course-cnn-1-epoch'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


RECIPE_COLUMNS = ("parameters", "batch", "optimizer", "train images")


def split_shared(rows: list[dict]) -> tuple[list[dict], dict]:
    """The table's rows without the recipe columns that every run shares (so the table fits the page), and those
    shared values, for a line under it."""
    shared = {column: rows[0][column] for column in RECIPE_COLUMNS if all(r[column] == rows[0][column] for r in rows)}
    return [{name: value for name, value in row.items() if name not in shared} for row in rows], shared


def shared_text(shared: dict) -> str:
    """'Every run: batch 32, optimizer adam 0.001, train images 4,500.'"""
    values = [f"{name} {value:,}" if isinstance(value, int) else f"{name} {value}" for name, value in shared.items()]
    return f"Every run: {', '.join(values)}." if values else ""


PERCENT_COLUMNS = ("test acc", "val acc", "train acc", "gap", "gap at best")  # fractions shown x 100
MAIN_COLUMNS = ("run", "test acc", "val acc", "train acc", "gap", "epochs", "seconds")  # the rest: "More columns"
RUN_WIDTH_PX = 300  # with the six numbers' widths (446 px) the table fits 1280 px with the sidebar open (789 px)


def in_percent(row: dict) -> dict:
    """A comparison row with its accuracies and gaps x 100 (None stays None)."""
    return {key: 100 * value if key in PERCENT_COLUMNS and value is not None else value for key, value in row.items()}


def main_columns(*, pinned: bool) -> dict:
    """The comparison table's columns: short headers, what each means in its tooltip, compact numbers."""
    number = st.column_config.NumberColumn
    return {
        "run": st.column_config.TextColumn("run", width=RUN_WIDTH_PX, pinned=pinned),
        "test acc": number("test", help="Test accuracy: on images no run trained on", format="%.2f%%", width=72),
        "val acc": number("val", help="Validation accuracy after the last epoch", format="%.2f%%", width=72),
        "train acc": number(
            "train", help="Training accuracy after the last epoch, as Keras logs it", format="%.2f%%", width=72
        ),
        "gap": number(
            "gap", help="Training minus validation accuracy after the last epoch", format="%.2f pt", width=80
        ),
        "epochs": st.column_config.TextColumn("epochs", help="Epochs trained", width=80),
        "seconds": number("time", help="Seconds of training", format="%.0f s", width=70),
    }


def detail_text(key: str, value: object) -> str:
    """A 'More columns' cell as text: '243,786', '3.45 pt', 'none'; '' for no value."""
    if value is None:
        return ""
    if key == "gap at best" and isinstance(value, float):
        return f"{value:.2f} pt"
    return f"{value:,}" if isinstance(value, int) else str(value)


def compare_section(runs: list[TrainingRun]) -> None:
    """3.: the finished runs in a table (the recipe and overfitting columns under 'More columns'), and the chosen
    ones' curves on one chart."""
    st.subheader("3. Compare runs")
    rows, shared = split_shared(comparison_rows(runs))
    rows = [in_percent(row) for row in rows]
    st.dataframe(  # accuracies in % as in the headlines, gaps in percentage points; the run's name pinned
        [{key: row[key] for key in MAIN_COLUMNS} for row in rows],
        hide_index=True,
        width="stretch",
        column_config=main_columns(pinned=not on_phone()),  # a pinned name would fill a phone's screen
    )
    with st.expander("More columns: each run's recipe, its fight against overfitting, how it ended"):
        st.table(
            [
                {key: detail_text(key, value) for key, value in row.items() if key not in MAIN_COLUMNS[1:]}
                for row in rows
            ]
        )
    caption, forget = st.columns([3, 1], vertical_alignment="center")  # the button keeps its whole label
    caption.caption(" ".join(part for part in (shared_text(shared), storage_caption()) if part))
    forget.button(
        "Forget this browser",
        on_click=forget_browser,
        help="On a shared computer: this browser stops showing your runs and the next person starts with none. "
        "Your runs stay on the server until they expire; nobody else can open them.",
        width="stretch",
    )
    names = [run.name for run in runs]
    latest = [run.name for run in runs if run.group == runs[-1].group]
    chosen = st.multiselect("Runs on one chart", names, default=latest if len(latest) > 1 else names[-3:])
    if chosen:
        overlay = overlay_figure([(run.name, run.history, run.epochs_done) for run in runs if run.name in chosen])
        st.plotly_chart(
            overlay, width="stretch", config=CHART_CONFIG, alt=figure_alt(overlay, "Accuracy per epoch of each run")
        )
        st.caption(
            "Per epoch: solid line and dots = validation, dashed line and open dots = training. A growing gap "
            "between them is overfitting. "
            "Test accuracy (on images no run trained on: Fashion-MNIST's 10,000 test images, or an own-images run's "
            "held-out share) is in the table; its gap is training minus validation accuracy in percentage points "
            "(training accuracy as Keras logs it, on the augmented, dropped-out batches), best epoch the one with the "
            "lowest validation loss."
            + (
                " A run stopped part-way through an epoch has its last dots where it stopped."
                if any(run.stopped_mid_epoch for run in runs if run.name in chosen)
                else ""
            )
        )


def _timeline_section(run: TrainingRun) -> None:
    """The run's first-layer filters and what they make of a test image, after the epoch a slider picks."""
    if run.timeline is None:
        st.info("The dense baseline has no conv layer, so it has no filters to watch.")
        return
    frames = len(run.timeline.kernels)
    step = frames - 1
    if frames > 1:
        step = st.slider(
            "After epoch",
            0,
            frames - 1,
            frames - 1,
            help="0 is the random initialisation; slide to replay how the filters formed.",
        )
    picture, kernels, maps = st.columns([1, 3, 3], gap="medium")
    picture.image(
        run.timeline.sample,
        width="stretch",
        caption=f"The sample: a test image ({run.class_names[run.timeline.sample_label]})",
        alt=f"A test image of a {run.class_names[run.timeline.sample_label]}",
    )
    with kernels:
        st.markdown("**First-layer filters**")
        st.plotly_chart(
            filters := filters_figure(run.timeline.kernels[step]),
            width="stretch",
            config=CHART_CONFIG,
            alt=figure_alt(filters, f"The first-layer filters after epoch {step}"),
        )
    with maps:
        st.markdown("**What they make of the sample**")
        st.plotly_chart(
            responses := feature_maps_figure(run.timeline.feature_maps[step]),
            width="stretch",
            config=CHART_CONFIG,
            alt=figure_alt(responses, f"What the filters make of the sample after epoch {step}"),
        )
    st.caption(
        "Filters: red = positive weight, blue = negative, each on its own scale (hover for the value). "
        "Feature maps: the first layer's output after ReLU for the sample, white = that map's maximum. "
        + (
            "This run's first layer is hand-picked and frozen, so it does not change."
            if run.config["first_layer"] != "learned"
            else ""
        )
        + (f" Its last step is where training stopped, after {run.epochs_text}." if run.stopped_mid_epoch else "")
    )


def dataset_download(run: TrainingRun) -> str | None:
    """For a run on the learner's own images: the dataset zip its notebook reads, as a download button; its file
    name (None when the dataset's file is gone, said in a caption)."""
    try:
        dataset = own.stored(run.spec().dataset)
    except DatasetError:
        if not presenting():
            st.caption(
                "This run's dataset is no longer on the server. Its notebook reads the zip you trained on: name it "
                f"{DATASET_FILE} and put it beside the notebook."
            )
        return None
    name = own.zip_name(dataset)
    st.download_button(
        "Dataset (.zip)",
        data=own.zip_bytes(run.spec().dataset),
        file_name=name,
        mime="application/zip",
        icon=":material/download:",
        help=f"The images this run trained on, 28x28 PNGs in class folders: its notebook reads {name} from its own "
        "folder.",
        on_click="ignore",
        key=f"dataset-{run.run_id}",
    )
    return name


def _files_section(run: TrainingRun) -> None:
    """The run's model and history to download (and its dataset for own images), a link to Inspect, and Remove."""
    slug = file_slug(run.name)
    spec = run.spec()
    left, right, notebook = st.columns(3)
    if spec.dataset:  # a second row: the notebook beside the dataset zip it reads
        notebook, dataset_column, _ = st.columns(3)
    left.download_button(
        "Trained model (.keras)",
        data=run.keras_bytes,
        file_name=f"{slug}.keras",
        mime="application/octet-stream",
        icon=":material/download:",
    )
    right.download_button(
        "History (.csv)",
        data=run.history_csv(),
        file_name=f"{slug}.csv",
        mime="text/csv",
        icon=":material/download:",
    )
    zipped = None
    if spec.dataset:
        with dataset_column:
            zipped = dataset_download(run)
    with notebook:  # the quoted accuracy only when the notebook trains what the run trained (not stopped mid-epoch)
        notebook_button(
            spec,
            title=run.name,
            file_name=slug,
            test_accuracy=None if run.stopped_mid_epoch else run.test_accuracy,
            key=f"notebook-{run.run_id}",
            class_names=run.class_names,
            dataset_file=zipped or DATASET_FILE,
        )
    if zipped and not presenting():  # presentation mode shows no download buttons, so no words about them
        st.caption(f"The notebook reads {zipped}: save both files in one folder.")
    inspect = next((page for page in ALL_PAGES if page.title == "Inspect"), None)
    if inspect is not None:
        st.page_link(inspect.path, label="Inspect this run's predictions and activations", icon=inspect.icon)
    st.button(
        "Remove this run", icon=":material/delete:", on_click=run_store().remove, args=(learner_token(), run.run_id)
    )


def run_section(runs: list[TrainingRun]) -> None:
    """4.: one run, chosen from the list (the latest first shown), looked at closely."""
    st.subheader("4. Look inside one run")
    run = st.selectbox("Run", runs, index=len(runs) - 1, format_func=lambda r: r.name)
    run_headline(run)
    curves_tab, timeline, files = st.tabs(["Learning curves", "Filter timeline", "Download"])
    with curves_tab:
        curves(run)
    with timeline:
        _timeline_section(run)
    with files:
        _files_section(run)
