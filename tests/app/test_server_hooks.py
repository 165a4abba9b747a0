"""Streamlit no longer clears the Keras session after every script run; everything else it does stays."""

import inspect

import keras
from streamlit.runtime.scriptrunner import script_runner

from tests.support.apptest import open_page


def test_streamlit_still_cleans_modules_through_the_hook_we_replace():
    # If Streamlit renames or drops its hook, this fails, and components.framework.server_hooks needs a new look.
    assert "_log_if_error(_clean_problem_modules)" in inspect.getsource(script_runner.ScriptRunner)


def test_reruns_do_not_clear_the_keras_session(monkeypatch):
    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: calls.append(1))
    app = open_page(timeout=60)
    app.run()
    assert not app.exception and calls == []


def test_without_the_change_streamlit_would_clear_it(monkeypatch):
    from components.framework import server_hooks

    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: calls.append(1))
    monkeypatch.setattr(server_hooks, "keep_keras_session", lambda: None)
    monkeypatch.setattr(script_runner, "_clean_problem_modules", server_hooks.STREAMLIT_HOOK)
    open_page(timeout=60)
    assert calls  # the cost the change removes
