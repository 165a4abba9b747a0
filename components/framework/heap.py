"""Keep the server's long-lived objects out of the garbage collector's way (no Streamlit here).

Streamlit can run a full `gc.collect()` after every script run (`runner.postScriptGC`, on by default). That
walks every object in the process: about 60 ms per rerun once Streamlit, Plotly, NumPy and SciPy are loaded,
and 200-450 ms once TensorFlow is (some 370,000 objects), on every click of every learner, fragment reruns
included. Almost all of those objects are modules and what they built at import time, which live as long
as the process. `gc.freeze()` moves everything alive into a permanent generation the collector skips.

`freeze_after_imports` does that once after each batch of imports: app.py calls it at the start of every run.
It collects first, so what it freezes is alive. Objects frozen that way are still freed by reference
counting; only reference cycles among them would outlive their use, which is why it freezes only when
modules were imported (a few times per server), not on every run.

Even so, with a class connected the collection after each run still walked what the sessions and caches hold
(every session's state, widgets and messages, the cached figures: about 110,000 objects with 50 learners):
35 ms of a 63 ms page run, over half the server's CPU in a 30-learner arrival storm (py-spy). So
`.streamlit/config.toml` turns `postScriptGC` off and `collect_now_and_then` runs a full collection at most
once every `COLLECT_EVERY` seconds per process instead (Python's own generational collector keeps running in
between, as in any Python program). One collection then took 60-110 ms of CPU: every 2 s it was still 18% of
the server's CPU in a 50-learner storm.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

NEW_MODULES = 50  # imports since the last freeze that make it worth freezing again
COLLECT_EVERY = 10.0  # seconds between full collections (Streamlit's default: after every run of every session)

_lock = threading.Lock()
_modules_at_freeze = 0
_last_collection = 0.0


def freeze_after_imports() -> bool:
    """Freeze the objects alive now if at least `NEW_MODULES` modules were imported since the last freeze."""
    global _modules_at_freeze
    with _lock:
        if len(sys.modules) - _modules_at_freeze < NEW_MODULES:
            return False
        gc.collect()  # garbage frozen would never be collected
        gc.freeze()
        _modules_at_freeze = len(sys.modules)
        return True


def collect_now_and_then() -> bool:
    """A full `gc.collect()` if the last one was `COLLECT_EVERY` seconds ago or more (one run pays it)."""
    global _last_collection
    now = time.monotonic()
    with _lock:
        if now - _last_collection < COLLECT_EVERY:
            return False
        _last_collection = now
    gc.collect()
    return True
