"""The Filters quiz question a class gets (components.teaching.quiz.class_quiz) and how a guess is checked."""

from components.teaching.quiz import Question, class_quiz
from models.inputs.samples import DRAWN_SAMPLES
from models.ops.kernels import KERNELS


def test_a_class_question_is_fixed_by_the_class_code_and_its_number():
    assert class_quiz("K7QX2M", 1) == class_quiz("K7QX2M", 1)  # every student's page draws the same one
    drawn = {class_quiz(code, number) for code in ("K7QX2M", "ABC234") for number in range(1, 21)}
    assert len(drawn) == 40  # another class or the next number: another question (its options' seed at least)
    assert {q.image for q in drawn} <= set(DRAWN_SAMPLES) and {q.kernel for q in drawn} <= set(KERNELS)
    assert "Identity" not in {q.kernel for q in drawn}  # no question whose answer is the image itself
    assert len({(q.image, q.kernel) for q in drawn}) > 10


def test_a_guess_is_right_when_it_names_the_kernels_output():
    question = Question(options=("Sharpen", "Emboss", "Box blur 3x3"), answer=1)
    assert question.right_letter == "B" and question.is_right("B")
    assert not any(question.is_right(guess) for guess in ("A", "C", "b", "", "B "))
