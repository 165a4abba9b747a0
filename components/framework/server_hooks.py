"""One change to Streamlit's script runner, made once per server process (app.py calls it on every run).

After every script run Streamlit calls `keras.backend.clear_session()` whenever `keras` is imported
(`_clean_problem_modules` in streamlit/runtime/scriptrunner/script_runner.py). It dates from TensorFlow 1,
whose graph-mode models broke across reruns (streamlit/streamlit#939). Here the models live in
`st.cache_resource` and run eagerly, so the call changes nothing a page relies on, but in Keras 3 it resets
TensorFlow's kernel cache and runs a full garbage collection: 185-460 ms after every rerun of every page
for every learner, once any learner has opened a page with a model (benchmarks/RESULTS.md). Streamlit has
no setting for it, so the function is replaced by one that does the rest of its work (closing matplotlib
figures) and skips Keras. tests/app/test_server_hooks.py checks that Streamlit still calls the hook by this name.
Written against Streamlit 1.67.0 (tests/app/test_streamlit_internals.py says what to look at after a bump).
"""

from __future__ import annotations

import sys

from streamlit.runtime.scriptrunner import script_runner

_HOOK = "_clean_problem_modules"
STREAMLIT_HOOK = getattr(script_runner, _HOOK)  # Streamlit's own, kept for the tests


def _clean_modules_but_keras() -> None:
    """What Streamlit's hook does, without `keras.backend.clear_session()`."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:  # noqa: BLE001  (as Streamlit's own hook: never crash the app here)
            pass


def keep_keras_session() -> None:
    """Stop Streamlit from clearing the Keras session after every script run (idempotent)."""
    if getattr(script_runner, _HOOK, None) is not _clean_modules_but_keras:
        setattr(script_runner, _HOOK, _clean_modules_but_keras)
