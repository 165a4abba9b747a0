"""The Week 3 tour's frame: Back / Next, predict-then-reveal, and each step's live view from its lesson's sections.

A step's view is the section function its lesson page uses, imported when the step is shown: the Training and
Inspect views load TensorFlow, so only their steps import it.
"""

from collections.abc import Callable

import streamlit as st

from components.framework.session_keys import TOUR_STEP, tour_back, tour_next, tour_reveal
from components.teaching.tour import Step


def go_to(index: int) -> None:
    st.session_state[TOUR_STEP] = index


def navigation_section(index: int, count: int, place: str, heading: str = "") -> None:
    """Back, "Step i of n" (or the step's `heading`, in presentation mode), Next; `place` is "top" or "bottom"
    (the tour shows both)."""
    back, where, forward = st.columns([1, 4, 1], vertical_alignment="center")
    back.button(
        "Back",
        icon=":material/arrow_back:",
        disabled=index == 0,
        on_click=go_to,
        args=(index - 1,),
        key=tour_back(place),
        width="stretch",
    )
    if heading:
        where.header(heading, anchor=False, help=f"Step {index + 1} of {count}")
    else:
        where.markdown(f"Step {index + 1} of {count}", text_alignment="center")
    forward.button(
        "Next",
        icon=":material/arrow_forward:",
        disabled=index == count - 1,
        on_click=go_to,
        args=(index + 1,),
        key=tour_next(place),
        type="primary",
        width="stretch",
    )


def predict_then_reveal_section(step: Step, index: int, *, compact: bool = False) -> None:
    """The question, and a toggle that reveals its answer (beside the question when `compact`)."""
    question, reveal = st.columns([4, 1], vertical_alignment="center") if compact else (st.container(),) * 2
    question.markdown(f"**Predict first:** {step.question}")
    if reveal.toggle("Reveal the answer", key=tour_reveal(index)):
        st.success(step.answer, icon=":material/lightbulb:")


def _why_section() -> dict[str, str]:
    from components.sections.architecture import tour_why_section

    return tour_why_section()


def _filter_section() -> dict[str, str]:
    from components.sections.filters import tour_section

    return tour_section()


def _pooling_section() -> dict[str, str]:
    from components.sections.pooling import tour_section

    return tour_section()


def _model_section() -> dict[str, str]:
    from components.sections.architecture import tour_model_section

    return tour_model_section()


def _training_section() -> dict[str, str]:
    from components.sections.training import tour_section

    return tour_section()


def _maps_section() -> dict[str, str]:
    from components.framework.loading import load_tensorflow

    load_tensorflow()  # the import below loads TensorFlow: say so instead of a silent wait
    from components.sections.inspect_maps import tour_section

    return tour_section()


def _deeper_section() -> dict[str, str]:
    from components.framework.loading import load_tensorflow

    load_tensorflow()  # the import below loads TensorFlow: say so instead of a silent wait
    from components.sections.deeper_fields import tour_section

    return tour_section()


VIEWS: dict[str, Callable[[], dict[str, str]]] = {
    "why": _why_section,
    "filter": _filter_section,
    "pooling": _pooling_section,
    "model": _model_section,
    "training": _training_section,
    "maps": _maps_section,
    "deeper": _deeper_section,
}
