"""Week 3 tour: Next / Back through the week's story, each step with the live widgets of its lesson page.

The widgets are the lesson pages' own section functions (each page runs its body only as __main__), imported
when a step needs them: the Training and Inspect sections load TensorFlow, so only their steps import it.
"""

import streamlit as st

from components.catalog import LESSONS
from components.image_picker import image_picker
from components.links import read_page_link, update_query_params
from components.page import start_page
from components.query_state import Integer, link_update, read_link
from components.resources import model_card
from components.session_keys import TOUR_STEP
from components.tour import TOUR_KERNEL, TOUR_RUN, Step, steps
from models.analysis import layer_table_for_config
from models.card import ModelFileError
from models.config import COURSE_CNN
from models.convolution import convolve2d
from models.samples import FASHION_PREFIX

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
    from pages import architecture

    architecture.show_comparison()
    return {}


def filter_section() -> dict[str, str]:
    from pages import filters

    left, right = st.columns(2, gap="large")
    with left:
        picked = image_picker("tour", default_sample=FASHION_PREFIX + "Ankle boot", allow_rgb=False)
    with right:
        chosen = filters.choose_kernel(read_link({"kernel": TOUR_KERNEL}, filters.LINK))
    if picked is None or chosen is None:
        return {}
    raw = convolve2d(picked.pixels, chosen.weights)
    filters.show_results(picked, chosen, raw, heading="Original and filtered")
    return set_values({**filters.sample_link(True), **chosen.query})


def pooling_section() -> dict[str, str]:
    from pages import pooling

    link = read_link({}, pooling.LINK)
    image, filter_name, relu = pooling.choose_map("tour", link)
    settings = pooling.choose_settings(link)
    if image is None:
        return {}
    pooling.pooled_view(image, filter_name, relu, settings, heading="Before and after")
    query = link_update({name: settings[name] for name in pooling.SETTINGS}, pooling.LINK)
    return set_values({**pooling.sample_link(True), **query})


def model_section() -> dict[str, str]:
    from pages import architecture

    rows = layer_table_for_config(COURSE_CNN)
    architecture.show_shapes(rows)
    architecture.show_table(rows)
    return {}


def training_section() -> dict[str, str]:
    from components import training_jobs as jobs
    from components.charts.training import curves_figure

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
        key="tour_train",
    )
    jobs.start_error()
    jobs.live()
    runs = jobs.learner_runs()
    if runs:
        run = runs[-1]
        st.markdown(f"**{run.name}**")
        jobs.run_headline(run)
        st.plotly_chart(curves_figure(run.batch_curve, run.history), width="stretch", config=CHART_CONFIG)
        st.caption(jobs.CURVES_CAPTION)
    try:
        card = model_card()
    except ModelFileError as error:
        st.error(str(error))
    else:
        st.caption(
            f"For comparison: the shipped model, the same recipe on {card['train_images']:,} images for "
            f"{card['epochs']} epochs, reaches {card['test_accuracy']:.2%} on the 10,000 test images."
        )
    return {"model": "course", "images": str(TOUR_RUN.train_images), "epochs": str(TOUR_RUN.recipe.epochs)}


def maps_section() -> dict[str, str]:
    from components.sections.inspect_maps import tour_view

    return tour_view()


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
