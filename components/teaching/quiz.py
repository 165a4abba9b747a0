"""'Guess first': which of three filtered images did this kernel make? (pure logic)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from models.inputs.samples import DRAWN_SAMPLES
from models.ops.kernels import KERNELS


@dataclass(frozen=True)
class Question:
    """`options` are kernel names in display order; `answer` indexes the one actually applied."""

    options: tuple[str, ...]
    answer: int

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple("ABCDEFGH"[: len(self.options)])

    @property
    def right_letter(self) -> str:
        return self.letters[self.answer]

    def is_right(self, letter: str) -> bool:
        """Whether a guess (an option's letter) names the output the kernel made."""
        return letter == self.right_letter


@dataclass(frozen=True)
class ClassQuiz:
    """A Filters quiz question put to a class: a drawn sample image, the kernel applied, the options' seed."""

    image: str
    kernel: str
    seed: int


def class_quiz(code: str, number: int) -> ClassQuiz:
    """Class `code`'s Filters quiz question `number`: fixed by both, so everyone in the class gets the same one."""
    seed = int(hashlib.sha256(f"{code}:{number}".encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    images, kernels = sorted(DRAWN_SAMPLES), sorted(name for name in KERNELS if name != "Identity")  # no giveaway
    return ClassQuiz(images[rng.integers(len(images))], kernels[rng.integers(len(kernels))], seed)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally shaped outputs; 1.0 when both are constant, 0.0 when one is."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"Outputs differ in size: {np.shape(a)} vs {np.shape(b)}.")
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    x, y = x - x.mean(), y - y.mean()
    norm_x, norm_y = np.linalg.norm(x), np.linalg.norm(y)
    if norm_x < 1e-9 or norm_y < 1e-9:
        return 1.0 if norm_x < 1e-9 and norm_y < 1e-9 else 0.0
    # einsum rather than `x @ y`: a threaded BLAS dot is slow on a busy 2-core server.
    return float(np.einsum("i,i->", x, y) / (norm_x * norm_y))


def make_question(
    answer_name: str,
    answer_output: np.ndarray,
    candidates: Mapping[str, np.ndarray],
    *,
    seed: int,
    options: int = 3,
    max_similarity: float = 0.9,
) -> Question:
    """Mix the real output with distractors that look clearly different from it and from each other.

    `candidates` maps other kernel names to their outputs on the same image. Distractors
    are taken in a seeded random order, skipping any whose output correlates above
    `max_similarity` with one already chosen (so a box blur is never offered next to a
    Gaussian blur, nor a kernel identical to the answer). There may be fewer than
    `options` choices when too few candidates differ.
    """
    if options < 2:
        raise ValueError(f"A question needs at least 2 options, got {options}.")
    rng = np.random.default_rng(seed)
    chosen: dict[str, np.ndarray] = {answer_name: answer_output}
    names = [name for name in candidates if name != answer_name]
    for index in rng.permutation(len(names)):
        if len(chosen) == options:
            break
        output = candidates[names[index]]
        if all(similarity(output, kept) <= max_similarity for kept in chosen.values()):
            chosen[names[index]] = output
    order = [list(chosen)[i] for i in rng.permutation(len(chosen))]
    return Question(options=tuple(order), answer=order.index(answer_name))
