"""The Deeper page: it opens on each tab a link names, keeps its test image in the link, and warns on bad links."""

import pytest

from components.framework.session_keys import DEEPER_CHANNELS_FILTER, DEEPER_INDEX, DEEPER_TAB, FOOLING_EPSILON
from components.sections.deeper import TAB_SLUGS
from tests.support.apptest import open_page

PAGE = "pages/deeper.py"


@pytest.mark.parametrize("slug", list(TAB_SLUGS))
def test_a_link_opens_its_tab(slug):
    app = open_page(PAGE, tab=slug, image="23")
    assert app.title[0].value == "Deeper"
    assert app.session_state[DEEPER_TAB] == TAB_SLUGS[slug]
    assert app.session_state[DEEPER_INDEX] == 23
    assert not app.warning


def test_a_bad_link_is_named_and_the_page_opens_on_its_defaults():
    app = open_page(PAGE, tab="nope", image="10000")
    assert app.session_state[DEEPER_TAB] == "Channel sum"
    assert app.session_state[DEEPER_INDEX] == 0
    shown = " ".join(w.value for w in app.warning)
    assert "The link's tab='nope' was ignored (not one of the choices (channels, fields, features, fooling, " in shown
    assert "The link's image='10000' was ignored (outside 0-9999); using the default, 0." in shown


def test_each_tabs_settings_survive_a_visit_to_another_tab():
    app = open_page(PAGE, tab="channels")
    app.number_input(key=DEEPER_CHANNELS_FILTER).set_value(17).run()
    app.number_input(key=DEEPER_INDEX).set_value(42).run()
    for tab in ("Fooling it", "What filters want", "Channel sum"):
        app.session_state[DEEPER_TAB] = tab
        app.run()
        assert not app.exception and not app.warning, [e.message for e in app.exception]
    assert app.number_input(key=DEEPER_CHANNELS_FILTER).value == 17
    assert app.number_input(key=DEEPER_INDEX).value == 42
    app.session_state[DEEPER_TAB] = "Fooling it"
    app.run()
    app.slider(key=FOOLING_EPSILON).set_value(0.05).run()
    app.session_state[DEEPER_TAB] = "Receptive fields"
    app.run()
    app.session_state[DEEPER_TAB] = "Fooling it"
    app.run()
    assert app.slider(key=FOOLING_EPSILON).value == 0.05
