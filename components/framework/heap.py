"""Keep the server's long-lived objects out of the garbage collector's way (no Streamlit here).

Streamlit runs a full `gc.collect()` after every script run (`runner.postScriptGC`). That walks every
object in the process: about 60 ms per rerun once Streamlit, Plotly, NumPy and SciPy are loaded, and
200-450 ms once TensorFlow is (some 370,000 objects), on every click of every learner, fragment reruns
included. Almost all of those objects are modules and what they built at import time, which live as long
as the process. `gc.freeze()` moves everything alive into a permanent generation the collector skips, so the
collection after each run only looks at what the runs themselves made.

`freeze_after_imports` does that once after each batch of imports: app.py calls it at the start of every run,
just after the previous run's collection, so what it freezes is alive. Objects frozen that way are still
freed by reference counting; only reference cycles among them would outlive their use, which is why it
freezes only when modules were imported (a few times per server), not on every run.
"""

from __future__ import annotations

import gc
import sys
import threading

NEW_MODULES = 50  # imports since the last freeze that make it worth freezing again

_lock = threading.Lock()
_modules_at_freeze = 0


def freeze_after_imports() -> bool:
    """Freeze the objects alive now if at least `NEW_MODULES` modules were imported since the last freeze."""
    global _modules_at_freeze
    with _lock:
        if len(sys.modules) - _modules_at_freeze < NEW_MODULES:
            return False
        gc.freeze()
        _modules_at_freeze = len(sys.modules)
        return True
