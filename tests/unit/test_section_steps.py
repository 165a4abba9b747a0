"""The named steps of long section functions, each on its own: texts written out by hand from their inputs."""

import numpy as np

from components.model_choice import EvaluationSet
from components.sections.inspect_maps import grid_caption
from components.sections.inspect_why import verdict_text
from models.inputs.fashion_mnist import CLASS_NAMES


def labelled(labels) -> EvaluationSet:
    return EvaluationSet(np.zeros((len(labels), 28, 28), np.uint8), np.asarray(labels), CLASS_NAMES, fashion=True)


def test_the_verdict_says_right_or_wrong_and_which_score_is_explained():
    test = labelled([9, 0])
    probabilities = np.full(10, 0.02)
    probabilities[9] = 0.82
    assert verdict_text(probabilities, 7, CLASS_NAMES, test, 0, labelled=True) == (
        "True class **Ankle boot**; predicted **Ankle boot** (82.0%): right. Heat maps for the score of **Sneaker**:"
    )
    assert verdict_text(probabilities, 9, CLASS_NAMES, test, 1, labelled=True).startswith(
        "True class **T-shirt/top**; predicted **Ankle boot** (82.0%): wrong."
    )


def test_a_model_of_other_classes_is_not_judged_right_or_wrong():
    names = ("cat", "dog", "bird")
    text = verdict_text(np.array([0.1, 0.7, 0.2]), 2, names, labelled([3]), 0, labelled=False)
    assert text == (
        "A Fashion-MNIST **Dress**; this model, with its own 3 classes, says **dog** (70.0%). "
        "Heat maps for the score of **bird**:"
    )


def test_the_grid_caption_names_the_row_labels_and_the_mistakes():
    caption = grid_caption(CLASS_NAMES, CLASS_NAMES, [])
    assert caption == (
        " One colour range per column; hover for values. "
        "Row labels: test index, true class → predicted class and its probability."
    )
    assert grid_caption(CLASS_NAMES, CLASS_NAMES, ["#12"]).endswith(
        " Misclassified: #12; compare its maps with the others."
    )
    assert grid_caption(CLASS_NAMES, CLASS_NAMES, ["#12", "#40"]).endswith("compare their maps with the others.")
    assert "among its own 3 classes" in grid_caption(CLASS_NAMES, ("a", "b", "c"), [])
