"""Filters: slide a small kernel over any image and see which features it emphasises."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components.charts.filters import (
    block_mean,
    display_factor,
    epoch_strip_figure,
    gallery_figure,
    kernel_figure,
    pixel_step_figure,
    response_figure,
    responses_grid_figure,
    shown_side,
    thumbnail,
    window_figure,
)
from components.image_picker import PickedImage, linked_image, sample_link
from components.links import read_page_link, update_query_params
from components.memo import once
from components.page import start_page
from components.query_state import Choice, Integer, Link
from components.quiz import make_question
from components.resources import learned_filters
from components.session_keys import FILTERS_QUIZ_ANSWERED, FILTERS_QUIZ_ROUND
from models.card import ModelFileError
from models.config import COURSE_CNN
from models.convolution import (
    KernelError,
    convolve2d,
    explain_pixel,
    kernel_to_text,
    normalise_kernel,
    parse_kernel,
    shape_formula,
    starting_kernels,
)
from models.images import LUMA_WEIGHTS, fingerprint, to_npy_bytes, to_png_bytes
from models.kernels import KERNELS, most_similar_kernel
from models.learned_filters import filter_responses
from models.samples import sample_names

KERNEL_SOURCES = ("Library", "Edit your own", "Learned by the network")
GRID_SIZES = (3, 5, 7)
QUIZ_SIDE = 128
RESPONSES_SIDE = 64
PLOTLY_CONFIG = {"displaylogo": False}
LINK = {
    "sample": Choice(tuple(sample_names())),
    "kernel": Choice(tuple(KERNELS), "Sobel: vertical edges"),
    "filter": Integer(0, COURSE_CNN.filters - 1),
}


@dataclass(frozen=True, eq=False)
class ChosenKernel:
    weights: np.ndarray
    title: str
    query: dict[str, str | None]  # ?kernel= / ?filter= for a link to this choice


def choose_kernel(link: Link) -> ChosenKernel | None:
    """Kernel source, the kernel itself and optional normalisation; None after showing an error.

    The widgets open on the link's ?kernel= (a library kernel) or ?filter= (a learned filter).
    """
    learned = "filter" in link.linked
    source = st.radio("Kernel", KERNEL_SOURCES, index=2 if learned else 0, horizontal=True, key="filters_kernel_source")
    if source == KERNEL_SOURCES[0]:
        names = list(KERNELS)
        name = st.selectbox("Named kernel", names, index=names.index(link["kernel"]), key="filters_library")
        st.caption(KERNELS[name].explanation)
        weights, title, query = KERNELS[name].weights, name, {"kernel": name, "filter": None}
    elif source == KERNEL_SOURCES[1]:
        chosen = edited_kernel()
        if chosen is None:
            return None
        weights, title = chosen
        query = {"kernel": None, "filter": None}
    else:
        chosen = learned_kernel(link["filter"] or 0)
        if chosen is None:
            return None
        weights, title, index = chosen
        query = {"kernel": None, "filter": str(index)}
    weights = np.asarray(weights, dtype=np.float32)
    if st.checkbox("Normalise: divide the weights by their sum", key="filters_normalise"):
        total = float(weights.sum())
        normalised = normalise_kernel(weights)
        if np.isclose(total, 1.0):
            st.caption("The weights already sum to 1: normalising changes nothing.")
        elif np.array_equal(normalised, weights):
            st.caption(
                "The weights sum to 0 (a difference, as in edge detectors): there is nothing to divide by, "
                "so the kernel is unchanged."
            )
        else:
            st.caption(f"Every weight divided by their sum, {total:.4g}.")
            title += " (normalised)"
        weights = normalised
    st.caption(f"Weights sum to {float(weights.sum()):.4g}: 1 keeps the brightness, 0 leaves 0 on flat areas.")
    st.plotly_chart(kernel_figure(weights), width="content", config={"displayModeBar": False})
    return ChosenKernel(weights, title, query)


def edited_kernel() -> tuple[np.ndarray, str] | None:
    size = st.radio("Grid size", GRID_SIZES, format_func=lambda s: f"{s}x{s}", horizontal=True, key="filters_grid_size")
    templates = starting_kernels(size)
    start = st.selectbox("Start from", list(templates), key=f"filters_start_{size}")
    text = st.text_area(
        "Weights: one row per line, numbers separated by spaces or commas (fractions like 1/9 work)",
        value=kernel_to_text(templates[start]),
        height=68 + 26 * size,
        key=f"filters_text_{size}_{start}",
    )
    try:
        weights = parse_kernel(text)
    except KernelError as error:
        st.error(str(error))
        return None
    return weights, f"Your {weights.shape[0]}x{weights.shape[0]} kernel"


def learned_kernel(linked_filter: int) -> tuple[np.ndarray, str, int] | None:
    try:
        filters, labels = learned_filters()
    except (ModelFileError, ValueError) as error:
        st.error(str(error))
        return None
    index = st.selectbox(
        "Filter of the first Conv2D layer",
        range(filters.count),
        index=min(linked_filter, filters.count - 1),
        format_func=lambda i: labels[i].text,
        key="filters_learned_index",
    )
    epoch = st.select_slider(
        "Weights after epoch",
        range(filters.epochs + 1),
        value=filters.epochs,
        format_func=lambda e: "0 (random start)" if e == 0 else str(e),
        key="filters_learned_epoch",
    )
    weights = filters.history[epoch, index]
    when = "at initialisation" if epoch == 0 else f"after epoch {epoch}"
    try:
        name, cosine = most_similar_kernel(weights)
        st.caption(
            f"{when.capitalize()} it most resembles **{name}** (cosine {cosine:.2f}); "
            f"after training: {labels[index].text}. Weights only, without the layer's bias."
        )
    except ValueError as error:
        st.caption(str(error))
    return weights, f"Filter {index} {when}", index


def quiz(picked: PickedImage, chosen: ChosenKernel) -> bool:
    """'Guess first': pick which of three outputs the kernel makes; True once the guess is checked."""
    st.subheader("Guess first")
    small = block_mean(picked.pixels, display_factor(picked.pixels.shape, QUIZ_SIDE))
    target = convolve2d(small, chosen.weights, padding="same")
    candidates = {name: convolve2d(small, kernel.weights, padding="same") for name, kernel in KERNELS.items()}
    round_number = st.session_state.setdefault(FILTERS_QUIZ_ROUND, 0)
    signature = hashlib.sha1(
        chosen.weights.tobytes()
        + repr(picked.pixels.shape).encode()
        + picked.label.encode()
        + str(round_number).encode()
    ).hexdigest()
    question = make_question(chosen.title, target, candidates, seed=int(signature[:8], 16))
    outputs = {chosen.title: target, **candidates}
    answered = st.session_state.get(FILTERS_QUIZ_ANSWERED)
    checked = answered is not None and answered[0] == signature
    st.markdown(
        f"This kernel slides over the image. Which of the outputs ({', '.join(question.letters)}) "
        "does it produce? Outputs are rescaled so the smallest value is black and the largest white."
    )
    columns = st.columns(len(question.options) + 1)
    columns[0].image(thumbnail(picked.pixels), caption="The image", output_format="PNG")
    for column, letter, name in zip(columns[1:], question.letters, question.options):
        caption = f"{letter}: {name}" if checked else letter
        column.image(thumbnail(outputs[name]), caption=caption, output_format="PNG")
    guess_key = f"filters_quiz_guess_{signature[:12]}"
    guess = st.radio("Your guess", question.letters, index=None, horizontal=True, key=guess_key, disabled=checked)
    left, right = st.columns(2)
    left.button(
        "Check my guess",
        disabled=guess is None or checked,
        key="filters_quiz_check",
        type="primary",
        on_click=lambda: st.session_state.update({FILTERS_QUIZ_ANSWERED: (signature, guess)}),
    )
    right.button(
        "New question",
        key="filters_quiz_new",
        on_click=lambda: st.session_state.update({FILTERS_QUIZ_ROUND: round_number + 1}),
    )
    if not checked:
        return False
    correct = question.letters[question.answer]
    if answered[1] == correct:
        st.success(f"Right: {correct} is the output of {chosen.title}.")
    else:
        st.error(
            f"Not quite: {answered[1]} came from {question.options[question.letters.index(answered[1])]}; "
            f"this kernel made {correct}."
        )
    return True


def show_results(
    picked: PickedImage,
    chosen: ChosenKernel,
    raw: np.ndarray,
    heading: str = "4. Original and filtered",
    key: str | None = None,
) -> None:
    """The image and its filtered output; `key` names them (default: their fingerprint) to keep the figure."""
    st.subheader(heading)
    figure = once(
        key or fingerprint(picked.pixels, raw), ("response",), functools.partial(response_figure, picked.pixels, raw)
    )
    st.plotly_chart(figure, width="stretch", config=PLOTLY_CONFIG)
    shared = (
        "Raw and ReLU panels share one colour scale"
        if picked.grayscale
        else "The three raw channel panels share one colour scale"
    )
    notes = [
        f"Raw output from {raw.min():.3f} to {raw.max():.3f}. {shared}: white is 0, blue negative, red "
        "positive. ReLU keeps the positive part, as a Conv2D layer with activation='relu' does. The rescaled "
        "panel stretches min..max to black..white, for display only."
    ]
    factor = display_factor(raw.shape, shown_side(raw))
    if factor > 1:
        notes.append(
            f"Shown at 1/{factor} size (each screen pixel averages a {factor}x{factor} block); "
            f"computed at the full {raw.shape[0]} x {raw.shape[1]} (height x width)."
        )
    st.caption(" ".join(notes))
    stem = f"{picked.label.rsplit('.', 1)[0]}-{chosen.title}".replace(" ", "_").replace(":", "").replace("/", "-")
    left, right = st.columns(2)
    left.download_button(
        "Download the filtered image (PNG, rescaled)",
        functools.partial(to_png_bytes, raw),
        file_name=f"{stem}.png",
        mime="image/png",
        on_click="ignore",
        key="filters_download_png",
    )
    right.download_button(
        "Download the raw values (NumPy .npy)",
        functools.partial(to_npy_bytes, raw),
        file_name=f"{stem}.npy",
        mime="application/octet-stream",
        on_click="ignore",
        key="filters_download_npy",
    )


@st.fragment
def step_through(pixels: np.ndarray, kernel: np.ndarray, raw: np.ndarray, stride: int, padding: str) -> None:
    """One output pixel: the patch under the kernel, the products and their sum; moving it reruns only this."""
    st.subheader("5. One output pixel, step by step")
    channel = None
    if pixels.ndim == 3:
        names = ("red", "green", "blue")
        channel = names.index(st.radio("Channel", names, horizontal=True, key="filters_step_channel"))
    image2d = pixels if channel is None else pixels[:, :, channel]
    output = raw if channel is None else raw[:, :, channel]
    out_h, out_w = output.shape
    left, right = st.columns(2)
    row = position_slider(left, "Output row", out_h, f"filters_step_row_{out_h}")
    col = position_slider(right, "Output column", out_w, f"filters_step_col_{out_w}")
    step = explain_pixel(image2d, kernel, row, col, stride=stride, padding=padding)
    left, right = st.columns([1, 2])
    left.plotly_chart(window_figure(image2d, step), width="stretch", config={"displayModeBar": False})
    right.plotly_chart(pixel_step_figure(step), width="stretch", config={"displayModeBar": False})
    terms = " + ".join(
        f"{p:.3g}\u00d7{w:.3g}" if w >= 0 else f"{p:.3g}\u00d7({w:.3g})"
        for p, w in zip(step.patch.ravel(), kernel.ravel())
    )
    if kernel.size <= 9:
        st.markdown(f"`{terms}` = **{step.total:.4f}**")
    st.markdown(
        f"The sum of the {kernel.size} products is **{step.total:.4f}**: exactly the filtered image's "
        f"value at row {row}, column {col} ({output[row, col]:.4f}). After ReLU: "
        f"{max(step.total, 0.0):.4f}. The window's top-left corner is at input row {step.top}, "
        f"column {step.left}" + (" (negative: it starts in the zero padding)." if min(step.top, step.left) < 0 else ".")
    )


def position_slider(container: DeltaGenerator, label: str, size: int, key: str) -> int:
    if size == 1:
        container.caption(f"{label}: 0 (the output has one)")
        return 0
    return container.slider(label, 0, size - 1, size // 2, key=key)


@st.fragment
def learned_section(picked: PickedImage, stride: int, padding: str) -> None:
    """The gallery of learned filters; showing all 64 responses reruns only this section."""
    st.subheader("6. The network learns its filters")
    filters, labels = learned_filters()
    st.markdown(
        f"These are the {filters.count} 3x3 filters of the course network's first Conv2D layer. They were "
        "**not chosen by anyone**: they started as small random numbers and training on Fashion-MNIST "
        f"shaped them over {filters.epochs} epochs. Several ended up close to the classic kernels above."
    )
    gallery = once(
        fingerprint(filters.history),
        ("gallery",),
        lambda: gallery_figure(
            filters.initial, filters.trained, [label.text for label in labels], epochs=filters.epochs
        ),
    )
    st.plotly_chart(gallery, width="stretch", config=PLOTLY_CONFIG)
    st.caption(
        "Filter number = row label + column label (e.g. row 16, column +1 is filter 17). Each filter is "
        "coloured relative to its own largest weight so its pattern shows; hover a tile for its label and "
        "weights."
    )
    index = st.session_state.get("filters_learned_index", 0)
    st.plotly_chart(
        epoch_strip_figure(filters.history[:, index], title=f"Filter {index} epoch by epoch"),
        width="stretch",
        config={"displayModeBar": False},
    )
    best = sorted(labels, key=lambda label: -abs(label.cosine))
    with st.expander("Which classic kernel each learned filter resembles"):
        st.dataframe(
            {
                "filter": [label.index for label in best],
                "resembles": [label.kernel_name for label in best],
                "cosine": [round(label.cosine, 3) for label in best],
            },
            hide_index=True,
            width="stretch",
        )
        st.caption(
            "Cosine similarity after removing each kernel's mean: 1 is the same pattern, "
            "-1 the inverted pattern (e.g. dark-to-light instead of light-to-dark)."
        )
    if st.toggle("Show all 64 responses to this image", key="filters_all_responses"):
        epoch = st.session_state.get("filters_learned_epoch", filters.epochs)
        gray = picked.pixels if picked.grayscale else picked.pixels @ LUMA_WEIGHTS
        small = block_mean(gray, display_factor(gray.shape, RESPONSES_SIDE))
        responses = filter_responses(small, filters.history[epoch], stride=stride, padding=padding)
        st.plotly_chart(responses_grid_figure(responses), width="stretch", config=PLOTLY_CONFIG)
        reduced = "" if small.shape == gray.shape else f", on a copy reduced to {small.shape[0]} x {small.shape[1]}"
        st.caption(
            f"Each tile is one filter's raw response (weights after epoch {epoch}, no bias or ReLU{reduced}), "
            "coloured relative to its own largest |value| so weak responses show too. Numbering as in the "
            "gallery."
        )


if __name__ == "__main__":
    start_page(
        "Filters",
        "A **convolution** slides a small grid of weights, the *kernel* or *filter*, over the image. At each "
        "position it multiplies the pixels under it by the weights and adds the products up: that sum is one "
        "output pixel. The weights decide what lights up: vertical lines, horizontal lines, outlines, or a blur. "
        "A CNN's first layer does exactly this with 64 filters that it **learns** from the data.",
    )

    link = read_page_link(LINK)
    image_column, kernel_column = st.columns(2, gap="large")
    with image_column:
        st.subheader("1. Image")
        picked = linked_image("filters", link)
    with kernel_column:
        st.subheader("2. Filter")
        chosen = choose_kernel(link)
    update_query_params({**sample_link(picked is not None), **({} if chosen is None else chosen.query)})
    if picked is None or chosen is None:
        st.stop()

    st.subheader("3. Stride and padding")
    stride_column, padding_column, quiz_column = st.columns(3)
    stride = stride_column.select_slider("Stride", (1, 2, 3), value=1, key="filters_stride")
    padding = padding_column.radio(
        "Padding",
        ("valid", "same"),
        horizontal=True,
        key="filters_padding",
        help="valid: only positions where the kernel fits; same: zeros around the border "
        "so the output keeps the input size (with stride 1)",
    )
    quiz_mode = quiz_column.toggle(
        "Guess first (quiz)", key="filters_quiz", help="See the image and kernel, pick the output, then see the result"
    )
    height, width = picked.pixels.shape[:2]
    size = chosen.weights.shape[0]
    try:
        key = f"{fingerprint(picked.pixels)}:{fingerprint(chosen.weights)}:{stride}:{padding}"
        raw = once(
            key,
            ("filtered",),
            functools.partial(convolve2d, picked.pixels, chosen.weights, stride=stride, padding=padding),
        )
        formula = shape_formula(height, width, size, stride, padding)
    except ValueError as error:
        st.error(str(error))
        st.stop()
    channels = (
        ""
        if picked.grayscale
        else (" The kernel runs over each of the 3 colour channels separately, so the output keeps 3 channels.")
    )
    st.markdown(
        f"**Shape arithmetic** for this {height} x {width} (height x width) image, a {size}x{size} kernel "
        f"and stride {stride} (valid: floor((H - k) / stride) + 1; same: ceil(H / stride)):{channels}"
    )
    st.code(formula, language=None)

    if not quiz_mode or quiz(picked, chosen):
        show_results(picked, chosen, raw, key=key)
        step_through(picked.pixels, chosen.weights, raw, stride, padding)
        if st.session_state.get("filters_kernel_source") == KERNEL_SOURCES[2]:
            learned_section(picked, stride, padding)
