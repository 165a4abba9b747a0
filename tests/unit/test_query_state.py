"""components.framework.query_state: link parameters (strings) to typed settings and back, with notices for bad
values."""

import pytest

from components.framework.query_state import (
    ARCHITECTURE,
    BUILDER_CHOICES,
    Choice,
    Indices,
    Integer,
    config_from_link,
    config_link,
    link_update,
    read_link,
)
from models.design.config import COURSE_CNN, CNNConfig

SCHEMA = {
    "size": Integer(1, 64, 2),
    "mode": Choice(("max", "avg", "min"), "max"),
    "images": Indices(100, 3),
    "blocks": Choice((1, 2, 3), 2),
}


def test_a_link_sets_typed_values_and_the_rest_keep_their_defaults():
    link = read_link({"size": "3", "images": "4, 7,4", "blocks": "3", "other": "x"}, SCHEMA)
    assert link.values == {"size": 3, "mode": "max", "images": (4, 7), "blocks": 3}
    assert link.linked == {"size", "images", "blocks"} and link.notices == ()


@pytest.mark.parametrize(
    "params, notice",
    [
        ({"size": "big"}, "The link's size='big' was ignored (not a whole number); using the default, 2."),
        ({"size": "0"}, "The link's size='0' was ignored (outside 1-64); using the default, 2."),
        ({"size": "65"}, "The link's size='65' was ignored (outside 1-64); using the default, 2."),
        (
            {"mode": "MAX"},
            "The link's mode='MAX' was ignored (not one of the choices (max, avg, min)); using the default, max.",
        ),
        (
            {"blocks": "2.0"},
            "The link's blocks='2.0' was ignored (not one of the choices (1, 2, 3)); using the default, 2.",
        ),
        (
            {"images": "1,2,3,4"},
            "The link's images='1,2,3,4' was ignored (give 1 to 3 indices separated by commas); "
            "using the page's default.",
        ),
        (
            {"images": "1,-2"},
            "The link's images='1,-2' was ignored (indices are whole numbers); using the page's default.",
        ),
        (
            {"images": "100"},
            "The link's images='100' was ignored (indices run from 0 to 99); using the page's default.",
        ),
        (
            {"images": ""},
            "The link's images='' was ignored (give 1 to 3 indices separated by commas); using the page's default.",
        ),
        (
            {"images": "1,\u00b2"},  # a superscript two: str.isdigit() says yes, int() says no
            "The link's images='1,\u00b2' was ignored (indices are whole numbers); using the page's default.",
        ),
    ],
)
def test_a_bad_value_falls_back_to_the_default_with_a_notice_naming_it(params, notice):
    link = read_link(params, SCHEMA)
    assert link.notices == (notice,)
    assert link.linked == frozenset()
    assert link.values == {name: param.default for name, param in SCHEMA.items()}


def test_link_update_leaves_out_values_a_link_could_not_hold():
    assert link_update({"size": 0, "mode": "max"}, SCHEMA)["size"] is None


def test_link_update_writes_strings_and_removes_defaults_and_missing_values():
    assert link_update({"size": 3, "mode": "max", "images": (4, 7), "blocks": None}, SCHEMA) == {
        "size": "3",
        "mode": None,
        "images": "4,7",
        "blocks": None,
    }


@pytest.mark.parametrize(
    "values",
    [
        {"size": 5, "mode": "min", "images": (0, 99), "blocks": 1},
        {"size": 64, "mode": "avg", "images": (42,), "blocks": 3},
    ],
)
def test_round_trip(values):
    query = {name: value for name, value in link_update(values, SCHEMA).items() if value is not None}
    assert read_link(query, SCHEMA).values == values


def test_architecture_link_keeps_the_valid_values_and_reports_the_others():
    base = CNNConfig(dense_units=64)
    config, notices = config_from_link({"blocks": "3", "filters": "48", "padding": "same", "pool": "x"}, base)
    assert config == CNNConfig(conv_blocks=3, padding="same", dense_units=64)
    assert [notice.split(" was ")[0] for notice in notices] == ["The link's filters='48'", "The link's pool='x'"]


@pytest.mark.parametrize(
    "config",
    [
        COURSE_CNN,
        CNNConfig(conv_blocks=3, filters=32, kernel_size=5, padding="same"),
        CNNConfig(pooling="avg", pool_size=3, dense_units=0, conv_blocks=0),
    ],
)
def test_architecture_link_round_trip_matches_the_analysis_module(config):
    query = {name: value for name, value in config_link(config).items() if value is not None}
    assert config_from_link(query, COURSE_CNN) == (config, ())
    assert set(config_link(config)) == set(ARCHITECTURE)  # every builder key is set or removed


@pytest.mark.parametrize("field, value", [(f, v) for f, values in BUILDER_CHOICES.items() for v in values])
def test_every_builder_choice_round_trips_through_a_link(field, value):
    config = CNNConfig(**{field: value})
    query = {name: text for name, text in config_link(config).items() if text is not None}
    assert config_from_link(query, COURSE_CNN) == (config, ())


def test_a_decimal_choice_reads_the_same_number_written_another_way():
    dropout = Choice((0.0, 0.2, 0.5), 0.0)
    assert dropout.parse("0") == 0.0 and dropout.parse("0.20") == 0.2 and dropout.parse(" .5") == 0.5
    assert Choice((1e-5, 1e-4, 1e-3), 1e-4).parse("0.001") == 1e-3
    with pytest.raises(ValueError, match="not one of the choices"):  # a count is written as a whole number
        Choice((16, 32, 64), 32).parse("32.0")
    for raw in ("\u0660", "0.25", "nan", "inf", "", "x"):  # an Arabic-Indic zero is not read as a number
        with pytest.raises(ValueError, match=r"not one of the choices \(0.0, 0.2, 0.5\)"):
            dropout.parse(raw)
    with pytest.raises(ValueError, match="not one of the choices"):
        Choice(("adam", "sgd")).parse("0")
