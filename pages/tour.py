"""Week 3 tour: Next / Back through the week's story, each step with the live widgets of its lesson page.

The widgets are the lesson pages' own section functions (each page runs its body only as __main__), imported
when a step needs them: the Training and Inspect sections load TensorFlow, so only their steps import it.
"""

import streamlit as st

from components.catalog import LESSONS
from components.links import read_page_link, update_query_params
from components.page import start_page
from components.query_state import Integer, link_update
from components.resources import shipped_model
from components.session_keys import TOUR_STEP
from components.tour import Step, steps

STEPS = steps()
LINK = {"step": Integer(1, len(STEPS), 1)}
CHART_CONFIG = {"displayModeBar": False}


def go_to(index: int) -> None:
    st.session_state[TOUR_STEP] = index


def navigation(index: int, place: str) -> None:
    back, where, forward = st.columns([1, 4, 1], vertical_alignment="center")
    back.button(
        "Back",
        icon=":material/arrow_back:",
        disabled=index == 0,
        on_click=go_to,
        args=(index - 1,),
        key=f"tour_back_{place}",
        width="stretch",
    )
    where.markdown(f"Step {index + 1} of {len(STEPS)}", text_alignment="center")
    forward.button(
        "Next",
        icon=":material/arrow_forward:",
        disabled=index == len(STEPS) - 1,
        on_click=go_to,
        args=(index + 1,),
        key=f"tour_next_{place}",
        type="primary",
        width="stretch",
    )


def predict_then_reveal(step: Step, index: int) -> None:
    st.markdown(f"**Predict first:** {step.question}")
    if st.toggle("Reveal the answer", key=f"tour_reveal_{index}"):
        st.success(step.answer, icon=":material/lightbulb:")


def why_section() -> dict[str, str]:
    from components.sections.architecture import why_view

    return why_view()


def filter_section() -> dict[str, str]:
    from components.sections.filters import tour_view

    return tour_view()


def pooling_section() -> dict[str, str]:
    from components.sections.pooling import tour_view

    return tour_view()


def model_section() -> dict[str, str]:
    from components.sections.architecture import model_view

    return model_view()


def training_section() -> dict[str, str]:
    from components.sections.training import tour_view

    return tour_view()


def maps_section() -> dict[str, str]:
    from pages import inspect

    inspect.keep_settings()
    shown = inspect.feature_maps_tab(shipped_model())
    return {} if shown is None else set_values(link_update({"images": tuple(shown)}, inspect.LINK))


def set_values(query: dict[str, str | None]) -> dict[str, str]:
    """The link parameters that are set (None means "the page's default")."""
    return {name: value for name, value in query.items() if value is not None}


SECTIONS = {
    "why": why_section,
    "filter": filter_section,
    "pooling": pooling_section,
    "model": model_section,
    "training": training_section,
    "maps": maps_section,
}


if __name__ == "__main__":
    start_page(
        "Week 3 tour",
        "The week's story in six steps, each with the live widget of its lesson page. "
        "Read the question, predict the answer, then reveal it and check it on the widget.",
    )
    link = read_page_link(LINK)
    if TOUR_STEP not in st.session_state:  # the first visit in this session: a link may name the step
        st.session_state[TOUR_STEP] = link["step"] - 1
    index = min(max(st.session_state[TOUR_STEP], 0), len(STEPS) - 1)
    step = STEPS[index]
    update_query_params({"step": str(index + 1)})
    navigation(index, "top")
    st.header(f"{index + 1}. {step.title}")
    st.markdown(step.text)
    predict_then_reveal(step, index)
    view = SECTIONS[step.key]()
    lesson = next(spec for spec in LESSONS if spec.url_path == step.page)
    st.page_link(lesson.path, label=f"This view on the full {lesson.title} page", icon=lesson.icon, query_params=view)
    navigation(index, "bottom")
