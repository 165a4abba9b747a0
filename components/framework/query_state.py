"""Shareable page state: a link's query parameters (strings) read into typed settings.

A page declares its parameters as a schema, e.g. {"size": Integer(1, 64, 2), "mode": Choice(("max", "avg"), "max")}.
`read_link` returns every setting (the link's value, or the default) plus one notice per value it ignored;
`link_update` turns settings back into query values, None meaning "remove it" (the default needs no parameter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from models.design.config import COURSE_CNN, CNNConfig
from models.inputs.fashion_mnist import read_indices


class Param:
    """One link parameter: its default (None: "the page's default"), read from the link's text and written back."""

    default: Any

    def parse(self, raw: str) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Choice(Param):
    """One of fixed options, written in the link as str(option); None as default means "no choice linked"."""

    options: tuple[Any, ...]
    default: Any = None

    def parse(self, raw: str) -> Any:
        for option in self.options:
            if raw == str(option):
                return option
        number = _ascii_number(raw)
        if number is not None:  # ?dropout=0 or ?lr=1e-3: the same decimal written another way (counts stay whole)
            for option in self.options:
                if isinstance(option, float) and option == number:
                    return option
        shown = ", ".join(str(o) for o in self.options) if len(self.options) <= 8 else "see the page's choices"
        raise ValueError(f"not one of the choices ({shown})")

    def encode(self, value: Any) -> str:
        return str(value)


def _ascii_number(raw: str) -> float | None:
    """A number written in ASCII ("0", "0.20", "1e-3"), else None: other scripts' digits are not numbers here."""
    if not raw.isascii():
        return None
    try:
        return float(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class Integer(Param):
    """A whole number from low to high; None as default means "no number linked"."""

    low: int
    high: int
    default: int | None = None

    def parse(self, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("not a whole number") from None
        if not self.low <= value <= self.high:
            raise ValueError(f"outside {self.low}-{self.high}")
        return value

    def encode(self, value: Any) -> str:
        return str(value)


@dataclass(frozen=True)
class Indices(Param):
    """1 to `most` distinct indices below `size`, comma separated (?images=0,23,28)."""

    size: int
    most: int
    default: tuple[int, ...] | None = None

    def parse(self, raw: str) -> tuple[int, ...]:
        return read_indices(raw, self.size, self.most)

    def encode(self, value: Any) -> str:
        return ",".join(str(v) for v in value)


@dataclass(frozen=True)
class Link:
    """Settings read from a link: `values` has every schema key; `linked` the keys the link set validly."""

    values: dict[str, Any]
    linked: frozenset[str] = frozenset()
    notices: tuple[str, ...] = ()

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


MARKDOWN_ACTIVE = frozenset("\\`*_[]<>$:~|")  # what can start formatting inside a sentence


def plain_markdown(text: str) -> str:
    """`text` as Markdown that shows it literally: each mark that could start formatting escaped (a hand-edited
    link's value never becomes a link, an image, HTML, bold text, an emoji or LaTeX in the app's own message)."""
    escaped = "".join(f"\\{char}" if char in MARKDOWN_ACTIVE else char for char in text)
    # a bare URL would still be made a link: a zero-width space after its "://" or "www" keeps it text
    return escaped.replace("\\://", "\\:\u200b//").replace("www.", "www\u200b.")


def read_link(params: Mapping[str, str], schema: Mapping[str, Param]) -> Link:
    """Every schema setting from the link, or its default; a notice naming each parameter value ignored."""
    values, linked, notices = {}, set(), []
    for name, param in schema.items():
        values[name] = param.default
        if name not in params:
            continue
        raw = params[name]
        try:
            values[name] = param.parse(raw)
        except ValueError as reason:
            default = param.default
            fallback = "the page's default" if default is None else f"the default, {param.encode(default)}"
            value, why = plain_markdown(repr(raw)), plain_markdown(str(reason))  # shown literally, never as Markdown
            notices.append(f"The link's {name}={value} was ignored ({why}); using {fallback}.")
        else:
            linked.add(name)
    return Link(values, frozenset(linked), tuple(notices))


def link_update(values: Mapping[str, Any], schema: Mapping[str, Param]) -> dict[str, str | None]:
    """Query values for these settings; None (remove the parameter) for a default, missing or invalid value.

    A value the link could not hold (e.g. a stride of 0 the learner typed, which the page reports itself)
    is left out, so reading the link back never blames the link for it.
    """
    return {name: _query_value(values.get(name), schema[name]) for name in values}


def _query_value(value: Any, param: Param) -> str | None:
    if value is None or value == param.default:
        return None
    text = param.encode(value)
    try:
        param.parse(text)
    except ValueError:
        return None
    return text


# ---------------------------------------------------------------- the Architecture builder's config

# The builder's choices and their names in a shareable link (?blocks=3&filters=32).
BUILDER_CHOICES: dict[str, tuple] = {
    "conv_blocks": (0, 1, 2, 3, 4, 5, 6),
    "filters": (8, 16, 32, 64, 128),
    "kernel_size": (3, 5, 7),
    "padding": ("valid", "same"),
    "pooling": ("max", "avg", "none"),
    "pool_size": (2, 3),
    "dense_units": (0, 32, 64, 128, 256),
}
QUERY_NAMES: dict[str, str] = {
    "conv_blocks": "blocks",
    "filters": "filters",
    "kernel_size": "kernel",
    "padding": "padding",
    "pooling": "pooling",
    "pool_size": "pool",
    "dense_units": "dense",
}

ARCHITECTURE: dict[str, Param] = {
    name: Choice(BUILDER_CHOICES[field_name], getattr(COURSE_CNN, field_name))
    for field_name, name in QUERY_NAMES.items()
}


def config_from_link(params: Mapping[str, str], base: CNNConfig) -> tuple[CNNConfig, tuple[str, ...]]:
    """`base` with the builder values the link sets validly; notices for the values it ignored."""
    link = read_link(params, ARCHITECTURE)
    changes = {field_name: link[name] for field_name, name in QUERY_NAMES.items() if name in link.linked}
    return replace(base, **changes), link.notices


def config_link(config: CNNConfig) -> dict[str, str | None]:
    """Query values for a builder config: only what differs from the course CNN."""
    return link_update({name: getattr(config, field_name) for field_name, name in QUERY_NAMES.items()}, ARCHITECTURE)
