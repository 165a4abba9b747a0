"""The Week 3 tour's "Predict first" questions as class polls: the numbers each answer is, and how a typed answer
is read and checked (pure logic, no Streamlit).

A student types the numbers the question asks for, in its order: "3x3", "7x7, 49", "1,000". The numbers
come from the same shape and parameter arithmetic the tour's answers are written from (components.teaching.tour).
"""

from __future__ import annotations

import re

from components.teaching.tour import TOUR_KERNEL, TOUR_RUN
from models.design.analysis import DENSE_BASELINE, layer_table_for_config
from models.design.config import COURSE_CNN, INPUT_SHAPE, plan
from models.design.receptive_field import receptive_field
from models.ops import convolution, pooling
from models.ops.kernels import KERNELS

MAX_CHARACTERS = 40
NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+")
HINT = "Type the numbers the question asks for, in its order, such as 3x3 or 1,000."


class AnswerError(ValueError):
    """Why a typed answer cannot be read, in words to show the student."""


def expected_answers() -> dict[str, tuple[int, ...]]:
    """Each tour step's key -> the numbers its question asks for, in the question's order."""
    stages = {stage.name: stage for stage in plan(COURSE_CNN)}
    first_dense = next(row for row in layer_table_for_config(DENSE_BASELINE) if row.kind == "Dense")
    filtered = convolution.output_shape(*INPUT_SHAPE[:2], KERNELS[TOUR_KERNEL].weights.shape[0])
    pooled = pooling.output_shape(*filtered)
    conv1 = stages["conv1"].shape
    return {
        "why": (first_dense.params,),
        "filter": tuple(filtered),
        "pooling": (*pooled, pooling.compression(filtered, pooled).output_pixels),
        "model": tuple(stages["pool2"].shape),
        "training": (TOUR_RUN.steps_per_epoch(),),
        "maps": (conv1[-1], conv1[0], conv1[1]),
        "deeper": (receptive_field(COURSE_CNN, "conv2")[0],),
    }


def read_answer(text: str) -> tuple[int, ...]:
    """The whole numbers in a typed answer ('13 x 13, 169' -> (13, 13, 169)); AnswerError if there are none or
    the text is not an answer of numbers."""
    text = str(text).strip()
    if not text:
        raise AnswerError(f"Type an answer first. {HINT}")
    if len(text) > MAX_CHARACTERS:
        raise AnswerError(f"An answer has at most {MAX_CHARACTERS} characters. {HINT}")
    if re.search(r"\d[.]\d|-\s*\d", text):
        raise AnswerError(f"'{text}' is not whole positive numbers. {HINT}")
    numbers = tuple(int(match.replace(",", "")) for match in NUMBER.findall(text))
    if not numbers:
        raise AnswerError(f"'{text}' holds no number. {HINT}")
    return numbers


def answer_text(numbers: tuple[int, ...]) -> str:
    """The form answers are counted and shown in: (13, 13) -> '13x13', (100480,) -> '100,480'."""
    return "x".join(f"{number:,}" for number in numbers)


def is_right(numbers: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """True when the numbers are the expected ones; a single size may also be typed as a square ('10x10')."""
    return numbers == expected or len(expected) == 1 and numbers == expected * 2
