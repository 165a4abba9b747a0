"""Training: train the course CNN (or a variant) in the background and watch it learn."""

import re

import streamlit as st

from components.catalog import ALL_PAGES
from components.charts.training import curves_figure, feature_maps_figure, filters_figure, overlay_figure
from components.learner import learner_token
from components.links import read_page_link, update_query_params
from components.page import start_page
from components.query_state import Choice, Integer, Link, link_update
from components.session_keys import ARCHITECTURE_CONFIG, TRAIN_DESIGN_REQUEST
from components.training_jobs import (
    CHART_CONFIG,
    CURVES_CAPTION,
    collect_ended_jobs,
    job_registry,
    learner_runs,
    live,
    run_headline,
    run_store,
    start,
    start_error,
    storage_caption,
)
from models.config import COURSE_CNN, CNNConfig
from models.data import CLASS_NAMES
from models.recipes import OPTIMIZER_NAMES, PRESETS, RunSpec, TrainConfig, architecture_changes
from models.runs import TrainingRun, comparison_rows

MODELS = {"Course CNN": COURSE_CNN, "Dense baseline (no conv layers)": None}
MODEL_SLUGS = {"course": "Course CNN", "dense": "Dense baseline (no conv layers)"}  # ?model= -> MODELS key
TRAINING_IMAGES = (5_000, 20_000, 60_000)
ARCHITECTURE_DESIGN = "My design from the Architecture page"

BATCH_SIZES = (16, 32, 64, 128, 256)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 0.1)
LINK = {
    "model": Choice(tuple(MODEL_SLUGS), "course"),
    "images": Choice(TRAINING_IMAGES, 20_000),
    "epochs": Integer(1, 30, 5),
    "batch": Choice(BATCH_SIZES, 32),
    "optimizer": Choice(OPTIMIZER_NAMES, OPTIMIZER_NAMES[0]),
    "lr": Choice(LEARNING_RATES, 1e-3),
    "seed": Integer(0, 9999, 0),
}
RECIPE_KEYS = {
    "images": "training_images",
    "epochs": "training_epochs",
    "batch": "training_batch",
    "optimizer": "training_optimizer",
    "lr": "training_lr",
    "seed": "training_seed",
}  # link -> widget


def architecture_design() -> CNNConfig | None:
    values = st.session_state.get(ARCHITECTURE_CONFIG)
    return CNNConfig.from_dict(values) if isinstance(values, dict) else None


def base_spec() -> RunSpec:
    """The run the settings widgets describe (read from session state, so button callbacks see fresh values)."""
    state = st.session_state
    name = state["training_model"]
    return RunSpec(
        architecture=architecture_design() if name == ARCHITECTURE_DESIGN else MODELS[name],
        recipe=TrainConfig(
            epochs=state["training_epochs"],
            batch_size=state["training_batch"],
            learning_rate=state["training_lr"],
            optimizer=state["training_optimizer"],
            stop_at_accuracy=state["training_threshold"] if state["training_stop_early"] else None,
            seed=int(state["training_seed"]),
        ),
        train_images=state["training_images"],
        validation_split=state["training_validation"],
    )


def settings_section(link: Link) -> None:
    """1. and 2.: the model and recipe widgets (opened on the link's values), Train and the course experiments."""
    st.subheader("1. Choose a model and a recipe")
    design = architecture_design()
    if st.session_state.pop(TRAIN_DESIGN_REQUEST, False) and design is not None:
        st.session_state["training_model"] = ARCHITECTURE_DESIGN
    row = st.columns(4)
    model_name = row[0].selectbox(
        "Model",
        [*MODELS, *([ARCHITECTURE_DESIGN] if design is not None else [])],
        index=list(MODEL_SLUGS).index(link["model"]),
        key="training_model",
        help="Design your own variant on the Architecture page.",
    )
    row[1].select_slider(
        "Training images",
        TRAINING_IMAGES,
        value=link["images"],
        key="training_images",
        format_func=lambda n: f"{n:,}",
        help="The first N images of the training set.",
    )
    row[2].slider(
        "Validation split",
        0.0,
        0.3,
        0.1,
        0.05,
        key="training_validation",
        help="The last part of those images is held out to validate after every epoch.",
    )
    row[3].slider("Epochs", 1, 30, link["epochs"], key="training_epochs")
    row = st.columns(4)
    row[0].selectbox("Batch size", BATCH_SIZES, index=BATCH_SIZES.index(link["batch"]), key="training_batch")
    row[1].selectbox(
        "Optimizer", OPTIMIZER_NAMES, index=OPTIMIZER_NAMES.index(link["optimizer"]), key="training_optimizer"
    )
    row[2].select_slider(
        "Learning rate", LEARNING_RATES, value=link["lr"], key="training_lr", format_func=lambda lr: f"{lr:g}"
    )
    row[3].number_input(
        "Seed",
        0,
        9999,
        link["seed"],
        key="training_seed",
        help="Same seed, same settings: the same starting weights and the same batch order.",
    )
    row = st.columns([1, 3])
    stop_early = row[0].toggle(
        "Stop at accuracy",
        key="training_stop_early",
        help="The course's callback: stop at the end of the first epoch whose training accuracy reaches the threshold.",
    )
    row[1].slider(
        "Training accuracy threshold", 0.50, 0.99, 0.95, 0.01, key="training_threshold", disabled=not stop_early
    )
    if model_name == ARCHITECTURE_DESIGN:
        st.caption("Your design: " + (", ".join(architecture_changes(design)) or "the course CNN") + ".")
    st.button("Train", type="primary", icon=":material/play_arrow:", on_click=lambda: start([base_spec()]))
    registry = job_registry()
    st.caption(
        f"Training runs on {registry.executor.name}, {registry.max_jobs} run(s) at a time for everyone "
        f"using it; right now {registry.running()} training and {registry.waiting()} waiting."
    )

    st.subheader("2. Or run a course experiment")
    st.caption("Each uses the settings above for everything it does not name; its runs queue one after another.")
    columns = st.columns(3)
    for index, preset in enumerate(PRESETS.values()):
        with columns[index % 3]:
            st.button(preset.title, width="stretch", on_click=lambda make=preset.runs: start(make(base_spec())))
            st.caption(preset.description)
    start_error()


def runs_section(runs: list[TrainingRun]) -> None:
    """3. and 4.: finished runs compared, and one run looked at closely."""
    st.subheader("3. Compare runs")
    st.dataframe(
        comparison_rows(runs),
        hide_index=True,
        width="stretch",
        column_config={
            "train acc": st.column_config.NumberColumn(format="%.4f"),
            "val acc": st.column_config.NumberColumn(format="%.4f"),
            "test acc": st.column_config.NumberColumn(format="%.4f"),
            "parameters": st.column_config.NumberColumn(format="localized"),
        },
    )
    st.caption(storage_caption())
    names = [run.name for run in runs]
    latest = [run.name for run in runs if run.group == runs[-1].group]
    chosen = st.multiselect("Runs on one chart", names, default=latest if len(latest) > 1 else names[-3:])
    if chosen:
        st.plotly_chart(
            overlay_figure([(run.name, run.history) for run in runs if run.name in chosen]),
            width="stretch",
            config=CHART_CONFIG,
        )
        st.caption(
            "Per epoch: solid line and dots = validation, dashed line and open dots = training. A growing gap "
            "between them is overfitting. "
            "Test accuracy (10,000 unseen images) is in the table."
        )

    st.subheader("4. Look inside one run")
    run = st.selectbox("Run", runs, index=len(runs) - 1, format_func=lambda r: r.name)
    run_headline(run)
    curves, timeline, files = st.tabs(["Learning curves", "Filter timeline", "Download"])
    with curves:
        st.plotly_chart(curves_figure(run.batch_curve, run.history), width="stretch", config=CHART_CONFIG)
        st.caption(CURVES_CAPTION)
    with timeline:
        if run.timeline is None:
            st.info("The dense baseline has no conv layer, so it has no filters to watch.")
        else:
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
                caption=f"The sample: a test image ({CLASS_NAMES[run.timeline.sample_label]})",
            )
            with kernels:
                st.markdown("**First-layer filters**")
                st.plotly_chart(filters_figure(run.timeline.kernels[step]), width="stretch", config=CHART_CONFIG)
            with maps:
                st.markdown("**What they make of the sample**")
                st.plotly_chart(
                    feature_maps_figure(run.timeline.feature_maps[step]), width="stretch", config=CHART_CONFIG
                )
            st.caption(
                "Filters: red = positive weight, blue = negative, each on its own scale (hover for the value). "
                "Feature maps: the first layer's output after ReLU for the sample, white = that map's maximum. "
                + (
                    "This run's first layer is hand-picked and frozen, so it does not change."
                    if run.config["first_layer"] != "learned"
                    else ""
                )
            )
    with files:
        slug = re.sub(r"[^a-z0-9]+", "-", run.name.lower()).strip("-")
        left, right = st.columns(2)
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
        inspect = next((page for page in ALL_PAGES if page.title == "Inspect"), None)
        if inspect is not None:
            st.page_link(inspect.path, label="Inspect this run's predictions and activations", icon=inspect.icon)
        st.button(
            "Remove this run", icon=":material/delete:", on_click=run_store().remove, args=(learner_token(), run.run_id)
        )


if __name__ == "__main__":
    start_page(
        "Training",
        "Train the course CNN, a variant, or the dense baseline on real Fashion-MNIST and watch it learn. "
        "Training runs in a separate process, so the page stays responsive: you can leave it, refresh it or "
        "come back later. Finished runs are saved for this browser, for comparison and for the Inspect page.",
    )
    link = read_page_link(LINK)
    settings_section(link)
    slugs = {name: slug for slug, name in MODEL_SLUGS.items()}
    recipe = {name: st.session_state[key] for name, key in RECIPE_KEYS.items()}
    update_query_params(link_update({"model": slugs.get(st.session_state["training_model"]), **recipe}, LINK))
    collect_ended_jobs()
    live()
    runs = learner_runs()
    if runs:
        runs_section(runs)
    else:
        st.info("No finished runs yet: press **Train** or a course experiment.", icon=":material/info:")
