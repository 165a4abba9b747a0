"""The Training page's fight against overfitting: data-augmentation toggles, dropout, L2 weight decay and early
stopping (all in the page's link), and a preview of augmented training images.

The preview runs the same Keras preprocessing layers the training job puts in front of the model
(models.networks.augmentation), so it imports TensorFlow: only when the learner switches it on, with the loading notice.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from components.charts.pictures import tile
from components.framework.loading import load_tensorflow
from components.framework.memo import once
from components.framework.query_state import Choice
from components.framework.session_keys import (
    TRAINING_AUGMENT_PREVIEW,
    TRAINING_DROPOUT,
    TRAINING_EARLY,
    TRAINING_FLIP,
    TRAINING_L2,
    TRAINING_ROTATE,
    TRAINING_SHIFT,
    TRAINING_VALIDATION,
    TRAINING_ZOOM,
)
from components.resources import fashion_mnist
from models.design.config import AUGMENTATIONS, CNNConfig
from models.training.recipes import EARLY_STOPPING_PATIENCE

DROPOUT_RATES = (0.0, 0.2, 0.3, 0.5)
L2_RATES = (0.0, 1e-5, 1e-4, 1e-3)
AUGMENT_KEYS = {"shift": TRAINING_SHIFT, "rotation": TRAINING_ROTATE, "zoom": TRAINING_ZOOM, "flip": TRAINING_FLIP}
AUGMENT_LABELS = {
    "shift": "Shift \u00b12.8 px",
    "rotation": "Rotate \u00b118\u00b0",
    "zoom": "Zoom \u00b110%",
    "flip": "Flip left-right",
}
LINK = {  # the Training page's link, after the recipe: ?shift=1&dropout=0.5&l2=0.0001&early=1
    "shift": Choice((0, 1), 0),
    "rotate": Choice((0, 1), 0),
    "zoom": Choice((0, 1), 0),
    "flip": Choice((0, 1), 0),
    "dropout": Choice(DROPOUT_RATES, 0.0),
    "l2": Choice(L2_RATES, 0.0),
    "early": Choice((0, 1), 0),
}
LINK_KEYS = {
    "shift": TRAINING_SHIFT,
    "rotate": TRAINING_ROTATE,
    "zoom": TRAINING_ZOOM,
    "flip": TRAINING_FLIP,
    "dropout": TRAINING_DROPOUT,
    "l2": TRAINING_L2,
    "early": TRAINING_EARLY,
}  # link -> widget
PREVIEW_IMAGES, PREVIEW_COPIES, PREVIEW_SCALE = 8, 4, 3


def link_values() -> dict[str, object]:
    """The link values of the widgets (toggles as 0 / 1)."""
    values = {name: st.session_state[key] for name, key in LINK_KEYS.items()}
    return {name: int(value) if isinstance(value, bool) else value for name, value in values.items()}


def with_regularisation(config: CNNConfig) -> CNNConfig:
    """`config` with the augmentation, dropout and L2 the widgets hold (session state)."""
    state = st.session_state
    return replace(
        config,
        dropout=float(state[TRAINING_DROPOUT]),
        l2=float(state[TRAINING_L2]),
        augment_flip=bool(state[TRAINING_FLIP]),
        augment_shift=bool(state[TRAINING_SHIFT]),
        augment_rotation=bool(state[TRAINING_ROTATE]),
        augment_zoom=bool(state[TRAINING_ZOOM]),
    )


def early_stopping_on() -> bool:
    """Early stopping as the run uses it: the toggle, and only with a validation split."""
    return bool(st.session_state[TRAINING_EARLY]) and st.session_state[TRAINING_VALIDATION] > 0


def regularisation_section(link, *, is_cnn: bool) -> None:
    """The toggles and sliders (opened on the link's values), in an expander open while any is on; the model options
    only for a CNN."""
    with st.expander("Against overfitting: augmentation, dropout, L2, early stopping", expanded=_any_on(link)):
        _controls(link, is_cnn=is_cnn)


def _any_on(link) -> bool:
    """Whether any option against overfitting is set (by the learner this session, else by the link)."""
    keys = {**{("rotate" if n == "rotation" else n): k for n, k in AUGMENT_KEYS.items()}, "dropout": TRAINING_DROPOUT}
    keys.update(l2=TRAINING_L2, early=TRAINING_EARLY)
    return any(bool(st.session_state.get(key, link[name])) for name, key in keys.items())


def _controls(link, *, is_cnn: bool) -> None:
    for column, (name, key) in zip(st.columns(4), AUGMENT_KEYS.items()):
        link_name = "rotate" if name == "rotation" else name
        column.toggle(
            AUGMENT_LABELS[name],
            value=bool(link[link_name]),
            key=key,
            disabled=not is_cnn,
            help=f"Data augmentation: a Keras {AUGMENTATIONS[name][0]} layer before conv1 makes each training "
            f"image new every epoch ({AUGMENTATIONS[name][1]}); it does nothing at test time.",
        )
    row = st.columns([2, 2, 3], vertical_alignment="bottom")
    row[0].select_slider(
        "Dropout rate",
        DROPOUT_RATES,
        value=link["dropout"],
        key=TRAINING_DROPOUT,
        format_func=lambda rate: f"{rate:g}",
        disabled=not is_cnn,
        help="A Dropout layer after the dense layer sets this share of its outputs to 0 in each training step "
        "(and scales the rest up); at test time it passes everything.",
    )
    row[1].select_slider(
        "L2 weight decay",
        L2_RATES,
        value=link["l2"],
        key=TRAINING_L2,
        format_func=lambda rate: f"{rate:g}",
        disabled=not is_cnn,
        help="Adds this factor times the sum of every squared kernel weight (conv and dense layers) to the loss, "
        "so large weights cost.",
    )
    no_validation = st.session_state.get(TRAINING_VALIDATION, 0.1) == 0
    row[2].toggle(
        f"Early stopping (patience {EARLY_STOPPING_PATIENCE})",
        value=bool(link["early"]),
        key=TRAINING_EARLY,
        disabled=no_validation,
        help=f"Stops when the validation loss has not fallen for {EARLY_STOPPING_PATIENCE} epochs, then puts back "
        "the weights of the epoch with the lowest validation loss (Keras EarlyStopping, restore_best_weights). "
        "It needs a validation split.",
    )
    notes = []
    if not is_cnn:
        notes.append("Augmentation, dropout and L2 apply to CNNs; the dense baseline stays last week's network.")
    if no_validation:
        notes.append("Early stopping is off: it watches the validation loss, so it needs a validation split above 0.")
    if notes:
        st.caption(" ".join(notes))


def _preview_grid(names: tuple[str, ...]) -> np.ndarray:
    """uint8 picture: the first PREVIEW_IMAGES training images (top row), then PREVIEW_COPIES augmented copies of each
    below it, enlarged PREVIEW_SCALE times, light grey between them."""
    from models.networks.augmentation import augmented_copies  # TensorFlow, only once the learner asks for the preview

    (x_train, _), _ = fashion_mnist()
    images = x_train[:PREVIEW_IMAGES]
    copies = augmented_copies(images, names, PREVIEW_COPIES, seed=0)  # (n, copies, 28, 28) in [0, 1]
    rows = np.concatenate([images[:, np.newaxis] / 255.0, copies], axis=1).transpose(1, 0, 2, 3)
    cells = np.kron(rows.reshape(-1, 28, 28), np.ones((PREVIEW_SCALE, PREVIEW_SCALE)))
    grid = tile(cells, PREVIEW_IMAGES, fill=0.75, gap=2)
    return np.round(grid * 255).astype(np.uint8)


def augmentation_preview_section() -> None:
    """What the switched-on augmentation does to real training images (computed when asked, once per server)."""
    names = tuple(name for name, key in AUGMENT_KEYS.items() if st.session_state[key])
    if not names:
        return
    if not st.toggle("Show augmented training images", key=TRAINING_AUGMENT_PREVIEW):
        return
    load_tensorflow()
    with st.spinner(f"Running {PREVIEW_IMAGES} training images through the augmentation layers (once per server)..."):
        grid = once("augmentation-preview", names, lambda: _preview_grid(names))
    st.image(
        grid,
        width=grid.shape[1],
        alt=f"{PREVIEW_IMAGES} training images, each above {PREVIEW_COPIES} random versions made by "
        f"{', '.join(AUGMENTATIONS[name][0] for name in names)}",
    )
    st.caption(
        f"Top row: the first {PREVIEW_IMAGES} training images. Below: {PREVIEW_COPIES} random versions of each "
        f"through the same Keras {', '.join(AUGMENTATIONS[name][0] for name in names)} layers the model starts with "
        "(called with training=True). Training draws new ones every epoch; at test time the images pass unchanged."
    )
