"""Class: a lecturer starts a class and projects its join code, QR code, live answers and challenge board; students
join by the QR code's link (?join=CODE) or the code, answer the tour's questions and share runs."""

import streamlit as st

from components.classroom import class_store, lecturing, my_class
from components.framework.page import start_page
from components.sections.class_session import join_section, projector_section, start_section, student_section
from models.serving.classroom import ClassError

start_page(
    "Class",
    "A live class: the lecturer starts one and projects its code; students join with a phone or laptop, answer the "
    "tour's questions (anonymously on the projector), follow the lecturer's step and share runs to a class board.",
)
store = class_store()
if store is not None:
    try:
        lecturer = lecturing()
        membership = None if lecturer else my_class(store)
        if lecturer:
            projector_section(store, *lecturer)
        elif membership:
            student_section(store, membership)
        else:
            join_section(st.query_params.get("join", ""))
            start_section()
    except ClassError as error:
        st.error(str(error), icon=":material/error:")
