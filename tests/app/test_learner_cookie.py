"""Who the learner is, on shared computers: the cookie's lifetime is a setting, and "Forget this browser" gives
the browser a new identity so the next person sees none of the previous one's runs."""

import pytest

from components.framework.learner import DEFAULT_COOKIE_DAYS, cookie_seconds
from components.framework.session_keys import LEARNER
from components.training_jobs import run_store
from tests.support import apptest
from tests.support.own_run import trained_own_run


def test_the_cookie_lives_about_a_term_unless_set():
    assert DEFAULT_COOKIE_DAYS == 120 and cookie_seconds({}) == 120 * 86400
    assert cookie_seconds({"CNN_LAB_COOKIE_DAYS": "30"}) == 30 * 86400
    for bad in ("0", "a year", "-5"):
        with pytest.raises(ValueError, match="CNN_LAB_COOKIE_DAYS must be a whole number"):
            cookie_seconds({"CNN_LAB_COOKIE_DAYS": bad})


@pytest.mark.training
def test_forget_this_browser_shows_the_next_person_none_of_the_runs():
    app = apptest.open_page("pages/training.py")
    token = app.session_state[LEARNER]
    store = run_store()
    _, run = trained_own_run()
    store.adopt(store.learner_key(token), run.folder, name="Run 1: the previous student's", group=1, shared_with=0)
    app.run()
    assert any("the previous student's" in str(cell) for frame in app.dataframe for cell in frame.value["run"])
    next(button for button in app.button if button.label == "Forget this browser").click().run()
    assert not app.exception, [e.message for e in app.exception]
    assert app.session_state[LEARNER] != token and not app.dataframe
    assert [r.name for r in store.runs(token)[0]] == ["Run 1: the previous student's"]  # kept on the server
