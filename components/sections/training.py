"""The Training page's settings: the model and recipe widgets (opened on a link's values), Train and the course
experiments; and the Week 3 tour's Training step, which trains the tour's short run with the same job lifecycle
(components.training_jobs).
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from components import training_jobs as jobs
from components.framework.query_state import Choice, Integer, Link, link_update
from components.framework.session_keys import (
    ARCHITECTURE_CONFIG,
    TOUR_TRAIN,
    TRAIN_DESIGN_REQUEST,
    TRAINING_BATCH,
    TRAINING_EPOCHS,
    TRAINING_IMAGES,
    TRAINING_LR,
    TRAINING_MODEL,
    TRAINING_OPTIMIZER,
    TRAINING_SEED,
    TRAINING_STOP_EARLY,
    TRAINING_THRESHOLD,
    TRAINING_TRAIN,
    TRAINING_VALIDATION,
)
from components.resources import model_card
from components.sections import training_own_data as own
from components.sections import training_regularise as regularise
from components.teaching.tour import TOUR_RUN
from models.design.card import ModelFileError
from models.design.config import COURSE_CNN, CNNConfig
from models.training.recipes import OPTIMIZER_NAMES, PRESETS, RunSpec, TrainConfig, architecture_changes

MODELS = {"Course CNN": COURSE_CNN, "Dense baseline (no conv layers)": None}
MODEL_SLUGS = {"course": "Course CNN", "dense": "Dense baseline (no conv layers)"}  # ?model= -> MODELS key
TRAINING_SIZES = (5_000, 20_000, 60_000)
ARCHITECTURE_DESIGN = "My design from the Architecture page"

BATCH_SIZES = (16, 32, 64, 128, 256)
VALIDATION_DEFAULT = 0.1
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 0.1)
LINK = {
    "model": Choice(tuple(MODEL_SLUGS), "course"),
    "images": Choice(TRAINING_SIZES, 20_000),
    "epochs": Integer(1, 30, 5),
    "batch": Choice(BATCH_SIZES, 32),
    "optimizer": Choice(OPTIMIZER_NAMES, OPTIMIZER_NAMES[0]),
    "lr": Choice(LEARNING_RATES, 1e-3),
    "seed": Integer(0, 9999, 0),
    **regularise.LINK,
}
RECIPE_KEYS = {
    "images": TRAINING_IMAGES,
    "epochs": TRAINING_EPOCHS,
    "batch": TRAINING_BATCH,
    "optimizer": TRAINING_OPTIMIZER,
    "lr": TRAINING_LR,
    "seed": TRAINING_SEED,
}  # link -> widget


def architecture_design() -> CNNConfig | None:
    values = st.session_state.get(ARCHITECTURE_CONFIG)
    return CNNConfig.from_dict(values) if isinstance(values, dict) else None


def base_spec() -> RunSpec:
    """The run the settings widgets describe (read from session state, so button callbacks see fresh values)."""
    state = st.session_state
    name = state[TRAINING_MODEL]
    architecture = architecture_design() if name == ARCHITECTURE_DESIGN else MODELS[name]
    return RunSpec(
        architecture=None if architecture is None else regularise.with_regularisation(architecture),
        recipe=TrainConfig(
            epochs=state[TRAINING_EPOCHS],
            batch_size=state[TRAINING_BATCH],
            learning_rate=state[TRAINING_LR],
            optimizer=state[TRAINING_OPTIMIZER],
            stop_at_accuracy=state[TRAINING_THRESHOLD] if state[TRAINING_STOP_EARLY] else None,
            seed=int(state[TRAINING_SEED]),
            early_stopping=regularise.early_stopping_on(),
        ),
        train_images=state[TRAINING_IMAGES],
        validation_split=state[TRAINING_VALIDATION],
    )


def own_data_spec() -> RunSpec:
    """The run the widgets describe, on the learner's own images when they are chosen and uploaded."""
    spec = base_spec()
    if not (dataset := own.chosen_dataset()):
        return spec
    size = own.train_images(dataset, spec.validation_split, spec.recipe.seed)
    return replace(spec, dataset=dataset, dataset_name=own.dataset_name(dataset), train_images=size)


def default_spec(architecture: CNNConfig | None) -> RunSpec:
    """The run a fresh Training page trains for this model: its widgets' defaults (the link's and the split's)."""
    recipe = {name: LINK[name].default for name in ("epochs", "optimizer", "seed")}
    return RunSpec(
        architecture=architecture,
        recipe=TrainConfig(batch_size=LINK["batch"].default, learning_rate=LINK["lr"].default, **recipe),
        train_images=LINK["images"].default,
        validation_split=VALIDATION_DEFAULT,
    )


def settings_link() -> dict[str, str | None]:
    """The link parameters of the model and recipe the widgets show (None: the default, no parameter)."""
    slugs = {name: slug for slug, name in MODEL_SLUGS.items()}
    recipe = {name: st.session_state[key] for name, key in RECIPE_KEYS.items()}
    return link_update(
        {"model": slugs.get(st.session_state[TRAINING_MODEL]), **recipe, **regularise.link_values()}, LINK
    )


def settings_section(link: Link) -> None:
    """1. and 2.: the learner's jobs first (state, Stop, live chart: on the first screen right after Train), the
    model and recipe widgets (opened on the link's values), Train, and the course experiments."""
    jobs.collect_ended_jobs()
    jobs.live()
    st.subheader("1. Choose the data, a model and a recipe")
    own.data_source_section()
    own_images = own.own_images_chosen()
    design = architecture_design()
    if st.session_state.pop(TRAIN_DESIGN_REQUEST, False) and design is not None:
        st.session_state[TRAINING_MODEL] = ARCHITECTURE_DESIGN
    model_name = _data_and_model(st.columns(4), link, design, own_images)
    _recipe(st.columns(4), link)
    chosen = architecture_design() if model_name == ARCHITECTURE_DESIGN else MODELS.get(model_name)
    regularise.regularisation_section(link, is_cnn=chosen is not None)
    regularise.augmentation_preview_section()
    _train(own_images, model_name, design)
    _course_experiments(own_images)


def _data_and_model(row, link: Link, design: CNNConfig | None, own_images: bool) -> str:
    """The first row of settings: the model (returned), how many training images, the validation split, epochs."""
    model_name = row[0].selectbox(
        "Model",
        [*MODELS, *([ARCHITECTURE_DESIGN] if design is not None else [])],
        index=list(MODEL_SLUGS).index(link["model"]),
        key=TRAINING_MODEL,
        help="Design your own variant on the Architecture page.",
    )
    row[1].select_slider(
        "Training images",
        TRAINING_SIZES,
        value=link["images"],
        key=TRAINING_IMAGES,
        format_func=lambda n: f"{n:,}",
        help="The first N images of the training set." + (" Fashion-MNIST only." if own_images else ""),
        disabled=own_images,
    )
    row[2].slider(
        "Validation split",
        0.0,
        0.3,
        VALIDATION_DEFAULT,
        0.05,
        key=TRAINING_VALIDATION,
        help="The last part of those images is held out to validate after every epoch.",
    )
    row[3].slider("Epochs", 1, 30, link["epochs"], key=TRAINING_EPOCHS)
    return model_name


def _recipe(row, link: Link) -> None:
    """The second row of settings: batch size, optimizer, learning rate and seed."""
    row[0].selectbox("Batch size", BATCH_SIZES, index=BATCH_SIZES.index(link["batch"]), key=TRAINING_BATCH)
    row[1].selectbox(
        "Optimizer", OPTIMIZER_NAMES, index=OPTIMIZER_NAMES.index(link["optimizer"]), key=TRAINING_OPTIMIZER
    )
    row[2].select_slider(
        "Learning rate", LEARNING_RATES, value=link["lr"], key=TRAINING_LR, format_func=lambda lr: f"{lr:g}"
    )
    row[3].number_input(
        "Seed",
        0,
        9999,
        link["seed"],
        key=TRAINING_SEED,
        help="Same seed, same settings: the same starting weights and the same batch order.",
    )


def _train(own_images: bool, model_name: str, design: CNNConfig | None) -> None:
    """The course's stop-at-accuracy callback, Train (off while the same run is queued), and where runs train."""
    threshold_row = st.columns([3, 2, 1, 2], vertical_alignment="center")
    stop_early = threshold_row[0].toggle(
        "Stop at training accuracy",
        key=TRAINING_STOP_EARLY,
        help="The course's callback: stop at the end of the first epoch whose training accuracy reaches the threshold.",
    )
    threshold_row[1].number_input(
        "Training accuracy threshold",
        0.50,
        0.99,
        0.95,
        0.01,
        format="%.2f",
        key=TRAINING_THRESHOLD,
        disabled=not stop_early,
        label_visibility="collapsed",
    )
    twin = jobs.duplicate_of(own_data_spec(), jobs.learner_jobs())
    waiting_for_upload = own_images and not own.chosen_dataset()
    threshold_row[3].button(
        "Train",
        key=TRAINING_TRAIN,
        type="primary",
        icon=":material/play_arrow:",
        width="stretch",
        disabled=twin is not None or waiting_for_upload,
        help=f"{twin.name} is already queued or training with these settings." if twin else None,
        on_click=lambda: jobs.start([own_data_spec()]),
    )
    jobs.start_error()
    if model_name == ARCHITECTURE_DESIGN and design is not None:
        st.caption("Your design: " + (", ".join(architecture_changes(design)) or "the course CNN") + ".")
    registry = jobs.job_registry()
    st.caption(
        f"Training runs on {registry.executor.name}, {registry.max_jobs} run(s) at a time for everyone "
        f"using it; right now {registry.running()} training and {registry.waiting()} waiting. "
        + jobs.limits_text(registry)
        + (" Train is off while the same run is queued or training: change a setting to train another." if twin else "")
    )


def _course_experiments(own_images: bool) -> None:
    """2.: the course experiments, a button each; their runs queue one after another."""
    st.subheader("2. Or run a course experiment")
    st.caption(
        "Each uses the settings above for everything it does not name; its runs queue one after another."
        + (" They train on Fashion-MNIST, not your own images." if own_images else "")
    )
    columns = st.columns(3)
    for index, preset in enumerate(PRESETS.values()):
        with columns[index % 3]:
            st.button(
                preset.title,
                width="stretch",
                on_click=lambda make=preset.runs: jobs.start(make(base_spec()), reuse=True),
            )
            st.caption(preset.description)


# ---------------------------------------------------------------- the Week 3 tour's view


def tour_section() -> dict[str, str]:
    """The tour's Training step: train the tour's short run, watch it, see its result beside the shipped model's.

    Returns the Training page's link parameters for the same run.
    """
    spec = TOUR_RUN
    jobs.collect_ended_jobs()
    busy = bool(jobs.learner_jobs())
    st.button(
        f"Train the {spec.title()}",
        icon=":material/play_arrow:",
        type="primary",
        disabled=busy,
        on_click=jobs.start,
        args=([spec],),
        key=TOUR_TRAIN,
    )
    jobs.start_error()
    jobs.live()
    runs = jobs.trained_runs()
    if runs:
        run = runs[-1]
        st.markdown(f"**{run.name}**")
        jobs.run_headline(run)
        jobs.curves(run)
    try:
        card = model_card()
    except ModelFileError as error:
        st.error(str(error))
    else:
        st.caption(
            f"For comparison: the shipped model, the same recipe on {card['train_images']:,} images for "
            f"{card['epochs']} epochs, reaches {card['test_accuracy']:.2%} on the 10,000 test images."
        )
    return {"model": "course", "images": str(spec.train_images), "epochs": str(spec.recipe.epochs)}
