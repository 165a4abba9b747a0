"""The one output-size rule of every sliding window: Keras/TensorFlow's Conv2D and pooling layers, per axis."""

from __future__ import annotations

from numbers import Integral
from typing import Literal, NamedTuple, TypeGuard

Padding = Literal["valid", "same"]
PADDINGS: tuple[Padding, ...] = ("valid", "same")


class AxisPlan(NamedTuple):
    """One axis of a sliding window: how many outputs, and how much padding goes before and after the input."""

    out: int
    before: int
    after: int


def effective_window(window: int, dilation: int = 1) -> int:
    """The input span of a window whose `window` taps are `dilation` pixels apart: d(k - 1) + 1 (k at d = 1)."""
    return dilation * (window - 1) + 1


def axis_plan(length: int, window: int, stride: int = 1, padding: str = "valid", dilation: int = 1) -> AxisPlan:
    """TensorFlow's rule for one axis, for a window of `window` taps `dilation` pixels apart (Conv2D's
    dilation_rate; pooling has none), which spans e = d(window - 1) + 1 input pixels.

    'valid' keeps the windows that fit: floor((length - e) / stride) + 1 outputs, no padding (0 or fewer
    outputs when the window is longer than the input: callers say so). 'same' gives ceil(length / stride)
    outputs and pads what the last window lacks, max((out - 1) * stride + e - length, 0) in all, the smaller half
    before, the larger half after. Both are out = floor((length + padding - e) / stride) + 1.
    """
    span = effective_window(window, dilation)
    if padding == "valid":
        return AxisPlan((length - span) // stride + 1, 0, 0)
    if padding == "same":
        out = -(-length // stride)
        total = max((out - 1) * stride + span - length, 0)
        return AxisPlan(out, total // 2, total - total // 2)
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")


def is_whole(value: object) -> TypeGuard[int]:
    """An int (NumPy's too), not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def whole_pair(value: object, what: str, error: type[ValueError] = ValueError) -> tuple[int, int]:
    """A whole number or a pair of them, each at least 1, as (rows, columns); `error` names the problem."""
    items = value if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(is_whole(item) for item in items):
        raise error(f"{what} must be a whole number or a pair of whole numbers (got {value!r})")
    pair = (int(items[0]), int(items[1]))
    if min(pair) < 1:
        raise error(f"{what} must be at least 1 (got {min(pair)})")
    return pair
