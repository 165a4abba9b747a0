"""Waits name only times this server measured: no time is quoted before the first measurement."""

from components.framework.loading import Stopwatch, measured_text


def test_a_wait_quotes_only_a_time_measured_on_this_server():
    kind = "a computation only this test times"
    assert measured_text(kind) == ""  # never measured here: no guess
    watch = Stopwatch(kind)
    watch.started -= 90.0  # as if it had begun 90 s ago
    assert watch.so_far().startswith(" (1 min 3") and watch.so_far().endswith(" so far)")
    watch.done(units=3)  # three models measured together: 30 s each
    assert measured_text(kind, " per model") == " The last one on this server took 30 s per model."
