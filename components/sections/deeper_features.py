"""Deeper, What filters want: for every conv1 and conv2 filter and every class, the input that excites it most
(gradient ascent from noise) beside the 9 training patches that excite it most, after training and at initialisation.

The shipped model's pictures are read from models/fashion_cnn.features.npz (made by `python -m
models.explain.feature_vis`, checked against the weights' fingerprint); a training run's are computed when the learner
asks, with a progress bar and a smaller budget, and kept per run for every session.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import streamlit as st

from components.charts.pictures import tile
from components.framework.loading import Stopwatch, measured_text
from components.framework.memo import once
from components.framework.session_keys import (
    DEEPER_FEATURES_ASKED,
    DEEPER_FEATURES_COMPUTE,
    DEEPER_FEATURES_LAYER,
    DEEPER_FEATURES_UNIT,
    DEEPER_FEATURES_WEIGHTS,
)
from components.model_choice import Subject
from components.presentation import beside
from components.sections.inspect import WEIGHTS
from models.explain import feature_vis as fv

RUN_BUDGET = fv.Budget(steps=128, images=10_000)  # a training run's pictures, computed while the learner waits
CLASSES = "Output classes"
COLUMNS = 8  # synthetic pictures per row of the grid
KEPT = 8  # training runs whose pictures stay in memory
FEATURES_KIND = "what filters want"  # what the server measures the time of (components.framework.loading.Stopwatch)


def _label(target: str) -> str:
    return CLASSES if target == fv.OUTPUT else target


@st.cache_resource(show_spinner=False)
def _computed() -> tuple[OrderedDict, threading.Lock]:
    """Training runs' pictures computed so far (model key -> SavedFeatures), shared by every session."""
    return OrderedDict(), threading.Lock()


def _shipped(subject: Subject) -> fv.SavedFeatures | None:
    """The shipped model's saved pictures, if the file was made from these weights."""
    return once(
        subject.key,
        ("features", "saved"),
        lambda: fv.read_features(fv.FEATURES_FILE, fv.weights_key(subject.model)),
    )


def _initial_model(subject: Subject):
    """The subject's model at initialisation (seed rebuilt, checked against its saved conv1 snapshot), or None."""
    if subject.key.startswith("shipped:"):
        return fv.shipped_initial()
    from models.training.runs import TrainingRun

    try:
        run = TrainingRun.read(Path(subject.key.removeprefix("run:")))
        timeline = run.timeline
    except (OSError, ValueError, KeyError):
        return None
    return None if timeline is None else fv.run_initial(run.config, timeline.kernels[0])


def _training_images(subject: Subject) -> np.ndarray:
    """The images the strongest patches are searched in: Fashion-MNIST's training images, or for a run on the
    learner's own images every image of its dataset outside its held-out test split."""
    if not subject.dataset:
        from components.resources import fashion_mnist

        (x_train, _), _ = fashion_mnist()
        return x_train
    from models.inputs.own_data import held_out_test, load_dataset

    dataset = load_dataset({"path": subject.dataset})
    kept = np.ones(len(dataset.labels), bool)
    kept[held_out_test(dataset.labels, subject.seed)] = False
    return dataset.images[kept]


def _compute(subject: Subject) -> fv.SavedFeatures:
    """A model's pictures on RUN_BUDGET, trained then at initialisation, with a progress bar naming each part."""
    x_train = _training_images(subject)
    bar = st.progress(0.0, "Starting...")
    watch = Stopwatch(FEATURES_KIND)
    initial_model = _initial_model(subject)
    halves = 2 if initial_model is not None else 1

    def report(offset: int, state: str):
        return lambda done, text: bar.progress(min((offset + done) / halves, 1.0), f"{state}: {text}{watch.so_far()}")

    trained = fv.features(subject.model, x_train, RUN_BUDGET, report(0, "After training"))
    initial = None
    if initial_model is not None:
        initial = fv.features(initial_model, x_train, RUN_BUDGET, report(1, "At initialisation"))
    bar.empty()
    watch.done()
    return fv.SavedFeatures(trained, initial, RUN_BUDGET)


def _pictures(subject: Subject) -> tuple[fv.SavedFeatures | None, str]:
    """The subject's pictures (None until computed) and a line saying where they come from."""
    shipped = subject.key.startswith("shipped:")
    if shipped and (saved := _shipped(subject)) is not None:
        return saved, (
            f"Computed once for the shipped model ({saved.budget.steps} ascent steps, all "
            f"{saved.budget.images:,} training images) and saved beside it."
        )
    store, lock = _computed()
    with lock:
        found = store.get(subject.key)
    searched = (
        f"the first {RUN_BUDGET.images:,} training images (the shipped model's: all 60,000)"
        if not subject.dataset
        else "its own training images (your images outside its held-out test split)"
    )
    budget = (
        f"{RUN_BUDGET.steps} ascent steps (the shipped model's pictures use {fv.Budget.steps}) and the strongest "
        f"patches among {searched}"
    )
    if found is None:
        if shipped:
            st.warning(
                "The saved pictures (models/fashion_cnn.features.npz) were not made from this model file; "
                "rebuild them with: python -m models.explain.feature_vis. Until then they are computed here."
            )
        st.caption(
            f"This model's pictures are computed when you ask: {budget}. A bar counts the parts done, with the time "
            "so far." + measured_text(FEATURES_KIND)
        )
        st.button(
            "Compute what the filters want",
            key=DEEPER_FEATURES_COMPUTE,
            on_click=st.session_state.__setitem__,
            args=(DEEPER_FEATURES_ASKED, subject.key),
        )
        if st.session_state.pop(DEEPER_FEATURES_ASKED, None) != subject.key:
            return None, ""
        found = _compute(subject)
        with lock:
            store[subject.key] = found
            while len(store) > KEPT:
                store.popitem(last=False)
    return found, f"Computed for this model: {budget}."


def _enlarged(picture: np.ndarray, size: int) -> np.ndarray:
    """A uint8 picture scaled up by whole pixels (no smoothing) to about `size` pixels wide."""
    scale = max(1, size // picture.shape[1])
    return np.kron(picture, np.ones((scale, scale), dtype=np.uint8))


def _grid(subject: Subject, state: str, target: str, images: np.ndarray) -> np.ndarray:
    columns = min(COLUMNS, len(images)) if target != fv.OUTPUT else 5
    return once(
        subject.key,
        ("features grid", state, target),
        lambda: _enlarged(tile(images, columns, fill=np.uint8(255), gap=2), 560),
    )


def _unit_name(target: str, unit: int, names: tuple[str, ...]) -> str:
    if target != fv.OUTPUT:
        return f"filter {unit}"
    return f"class {unit}" if names[unit] == f"class {unit}" else f"class {unit} ({names[unit]})"


def features_section(subject: Subject) -> None:
    st.markdown(
        "**What each filter wants to see.** Start from noise and change the pixels, step by step, in the direction "
        "that raises one filter's mean activation (or one class's score before softmax): gradient ascent on the "
        "input, with jitter, blur and penalties that keep the picture smooth. Beside it, the 9 crops of training "
        "images that excite the same filter most: each crop is exactly the pixels that filter unit sees."
    )
    saved, source = _pictures(subject)
    if saved is None:
        return
    names = list(saved.trained)
    labels = [_label(name) for name in names]
    if st.session_state.get(DEEPER_FEATURES_LAYER) not in labels:
        st.session_state[DEEPER_FEATURES_LAYER] = labels[0]
    states = WEIGHTS if saved.initial is not None else WEIGHTS[:1]
    if st.session_state.get(DEEPER_FEATURES_WEIGHTS) not in states:
        st.session_state[DEEPER_FEATURES_WEIGHTS] = WEIGHTS[0]
    controls, results = beside(2, 3)
    with controls:
        shown = str(st.segmented_control("Layer", labels, key=DEEPER_FEATURES_LAYER, required=True))
        target = names[labels.index(shown)]
        when = str(st.segmented_control("Weights", states, key=DEEPER_FEATURES_WEIGHTS, required=True))
        if len([n for n in names if n != fv.OUTPUT]) < 2:
            st.caption(
                f"This model has {len(names) - 1} convolution layer(s), so only "
                f"{', '.join(labels)} can be shown; the course CNN has conv1 and conv2."
            )
        if saved.initial is None:
            st.caption(
                "The weights at initialisation could not be rebuilt for this model (its seed does not reproduce "
                "its saved first-layer snapshot, or it has no convolution layer), so only the trained pictures show."
            )
        chosen = (saved.initial if when == WEIGHTS[1] and saved.initial is not None else saved.trained)[target]
        trained = saved.trained[target]
        count = len(trained.synthetic.units)
        what = "class" if target == fv.OUTPUT else "filter"
        st.session_state[DEEPER_FEATURES_UNIT] = min(int(st.session_state.get(DEEPER_FEATURES_UNIT, 0)), count - 1)
        unit = int(st.number_input(f"Show {what} (0-{count - 1})", 0, count - 1, step=1, key=DEEPER_FEATURES_UNIT))
        st.image(
            _grid(subject, when, target, chosen.synthetic.images),
            caption=f"All {count} {what}s of {shown} ({when.lower()}), numbered left to right, top to bottom."
            + (
                f" Classes: {', '.join(f'{i} {n}' for i, n in enumerate(subject.class_names))}."
                if what == "class"
                else ""
            ),
            output_format="PNG",
            alt=f"All {count} {what}s' synthetic pictures of {shown} ({when.lower()}); {what} {unit} strongest at "
            f"{chosen.synthetic_peaks[unit]:.2f}; highest of all: {what} {int(np.argmax(chosen.synthetic_peaks))} "
            f"at {float(np.max(chosen.synthetic_peaks)):.2f}.",
        )
    with results:
        _one_unit(saved, target, unit, when, subject.class_names)
    st.caption(source)
    st.markdown(_what_to_look_for(saved, target))


def _one_unit(saved: fv.SavedFeatures, target: str, unit: int, when: str, names: tuple[str, ...]) -> None:
    """One filter: its synthetic picture trained and at initialisation, and its 9 strongest training patches."""
    name = _unit_name(target, unit, names)
    pictures = [("After training", saved.trained[target])]
    if saved.initial is not None:
        pictures.append(("At initialisation (random)", saved.initial[target]))
    score = "score (logit)" if target == fv.OUTPUT else "peak activation"
    columns = st.columns(len(pictures))
    for column, (label, item) in zip(columns, pictures):
        column.image(
            _enlarged(item.synthetic.images[unit], 196),
            width=196,
            output_format="PNG",
            caption=f"{name}, {label.lower()}: its {score} on this picture {item.synthetic_peaks[unit]:.2f} "
            f"(strongest training image: {item.patches.values[unit, 0]:.2f})",
            alt=f"The picture {name} wants to see, {label.lower()}",
        )
    chosen = saved.initial if when == WEIGHTS[1] and saved.initial is not None else saved.trained
    patches = chosen[target].patches
    size = patches.window.size
    where = "whole training images" if target == fv.OUTPUT else f"{size}x{size}-pixel training crops"
    st.markdown(f"**The 9 {where} with the highest {score} for {name}** ({when.lower()}):")
    if patches.values[unit].max() <= 0 and target != fv.OUTPUT:
        st.info(f"{name.capitalize()} is 0 on every training image searched: it never fires (a dead ReLU).")
        return
    st.image(
        [np.pad(_enlarged(crop, 80), 2, constant_values=128) for crop in patches.crops[unit]],
        caption=[f"#{i}: {v:.2f}" for i, v in zip(patches.indices[unit], patches.values[unit])],
        width=84,
        output_format="PNG",
        alt=[f"Training image {i}, {score} {v:.2f}" for i, v in zip(patches.indices[unit], patches.values[unit])],
    )
    st.caption(
        "Under each crop: its training image's index, then the value. A grey frame marks the crop's edge. The "
        "synthetic picture raises the mean over the whole map, so one training crop can peak higher."
    )


def _what_to_look_for(saved: fv.SavedFeatures, target: str) -> str:
    size = saved.trained[target].patches.window.size
    trained = float(np.median(saved.trained[target].patches.values[:, 0]))
    if saved.initial is not None:
        initial = float(np.median(saved.initial[target].patches.values[:, 0]))
        versus = (
            f" Switch to **At initialisation**: the same units began as random weights, not chosen by anyone. The "
            f"median over the layer of each unit's strongest training response is {initial:.2f} at initialisation "
            f"and {trained:.2f} after training: training made the patterns the data needs."
        )
    else:
        versus = ""
    if target == fv.OUTPUT:
        return (
            "**What to look for.** A class's picture is not a photo of the item: it is whatever raises the score "
            "most, often a few strokes where the class's edges usually are. The training images beside it are the "
            "ones the network scores highest for that class." + versus
        )
    return (
        f"**What to look for.** Each unit of this layer sees {size}x{size} pixels of the input. The mean over the "
        "whole map is highest when the unit's favourite pattern repeats everywhere, so the picture is a texture of "
        "that pattern (stripes at one angle, an edge, a blob); the training crops show the same pattern in real "
        "clothes." + versus
    )
