"""Week 3 tour: Next / Back through the week's story, each step with the live view of its lesson page."""

import streamlit as st

from components.catalog import LESSONS
from components.framework.links import read_page_link, update_query_params
from components.framework.page import start_page
from components.framework.query_state import Integer
from components.framework.session_keys import TOUR_STEP
from components.presentation import presenting
from components.sections.class_poll import class_question_section, follow_lecturer
from components.sections.tour import VIEWS, navigation_section, predict_then_reveal_section
from components.teaching.tour import steps

STEPS = steps()
LINK = {"step": Integer(1, len(STEPS), 1)}

start_page(
    "Week 3 tour",
    "The week's story in six steps, each with the live widget of its lesson page, and a seventh beyond the week. "
    "Read the question, predict the answer, then reveal it and check it on the widget.",
    compact=True,
)
link = read_page_link(LINK)
if TOUR_STEP not in st.session_state:  # the first visit in this session: a link may name the step
    st.session_state[TOUR_STEP] = link["step"] - 1
follow_lecturer()  # in a class: a student's tour moves to the lecturer's step
index = min(max(st.session_state[TOUR_STEP], 0), len(STEPS) - 1)
step = STEPS[index]
update_query_params({"step": str(index + 1)})
heading = f"{index + 1}. {step.title}"
if presenting():  # one 720-px screen: the step's heading between Back and Next, the toggle beside its question
    navigation_section(index, len(STEPS), "top", heading)
else:
    navigation_section(index, len(STEPS), "top")
    st.header(heading)
st.markdown(step.text)
if not class_question_section(step, index):  # in a class the question is a poll
    predict_then_reveal_section(step, index, compact=presenting())
view = VIEWS[step.key]()
lesson = next(spec for spec in LESSONS if spec.url_path == step.page)
st.page_link(lesson.path, label=f"This view on the full {lesson.title} page", icon=lesson.icon, query_params=view)
navigation_section(index, len(STEPS), "bottom")
