"""The one output-size rule (models.ops.geometry) against windows counted one by one."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.ops.geometry import axis_plan, whole_pair


@given(length=st.integers(1, 60), window=st.integers(1, 9), stride=st.integers(1, 6))
def test_valid_counts_the_windows_that_fit(length, window, stride):
    fitting = [start for start in range(length) if start % stride == 0 and start + window <= length]
    plan = axis_plan(length, window, stride, "valid")
    assert (max(plan.out, 0), plan.before, plan.after) == (len(fitting), 0, 0)


@given(length=st.integers(1, 60), window=st.integers(1, 9), stride=st.integers(1, 6))
def test_same_covers_every_stride_step_with_the_least_padding_smaller_half_first(length, window, stride):
    plan = axis_plan(length, window, stride, "same")
    starts = range(0, length, stride)  # one output per stride step
    assert plan.out == len(starts)
    padded = length + plan.before + plan.after
    assert (plan.out - 1) * stride + window <= padded  # the last window fits in the padded input
    assert (plan.out - 1) * stride + window > padded - 1 or plan.before + plan.after == 0  # and no cell is spare
    assert plan.after - plan.before in (0, 1)


def test_whole_pair_reads_a_number_or_a_pair_and_names_the_problem():
    assert whole_pair(2, "Stride") == (2, 2) and whole_pair((1, 3), "Stride") == (1, 3)
    for bad, reason in [(0, "at least 1"), (1.5, "whole number"), (True, "whole number"), ((1, 2, 3), "pair")]:
        with pytest.raises(ValueError, match=reason):
            whole_pair(bad, "Stride")
