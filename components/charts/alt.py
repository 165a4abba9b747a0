"""Text alternatives of the charts (st.plotly_chart's and st.image's `alt=`): each chart's takeaway in words and
numbers, read from the data it draws, for screen readers and for anyone who cannot see the colours."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

LISTED = 12  # up to this many bars or points are read out one by one; more are summarised
DESCRIBED = 8  # up to this many panels are described; the rest are counted


def number(value: float | np.number) -> str:
    """A value as a person reads it: three significant figures, no exponent for everyday sizes."""
    return f"{float(value):.3g}"


def prediction_alt(probabilities: Sequence[float] | np.ndarray, class_names: Sequence[str], shown: int = 3) -> str:
    """The winning class and its probability, then the runners-up."""
    values = np.asarray(probabilities, dtype=float)
    order = np.argsort(-values, kind="stable")[:shown]
    first, rest = order[0], order[1:]
    text = f"Class probabilities: {class_names[first]} wins with {values[first]:.1%}"
    if len(rest):
        text += "; then " + ", ".join(f"{class_names[c]} {values[c]:.1%}" for c in rest)
    return text + "."


def strongest_alt(values: np.ndarray, name: str, shown: int = 3) -> str:
    """A map's size, range and its `shown` strongest values with their row and column (counted from 1, top left)."""
    values = np.asarray(values, dtype=float)
    flat = np.where(np.isnan(values), -np.inf, values).ravel()
    order = np.argsort(-flat, kind="stable")[:shown]
    places = [f"{number(flat[i])} at row {i // values.shape[1] + 1}, column {i % values.shape[1] + 1}" for i in order]
    return (
        f"{name}, {values.shape[0]}x{values.shape[1]}, values from {number(np.nanmin(values))} to "
        f"{number(np.nanmax(values))}; strongest: {'; '.join(places)}."
    )


def figure_alt(figure: go.Figure, subject: str) -> str:
    """`subject`, then what the figure's panels show, read from its traces: a heatmap's range and strongest cell,
    every bar, every point of a short line (a long one summarised), points per group of a scatter.

    Reads `to_dict()` (a frozen figure's is kept, components.framework.memo), where arrays may be Plotly's base64
    form; a frozen figure's dict also keeps the texts made for it (`alts`), so a kept chart's alt is read once."""
    drawn = figure.to_dict()
    kept = getattr(drawn, "alts", None)
    if kept is None:
        return _described(drawn, subject)
    if subject not in kept:
        kept[subject] = _described(drawn, subject)
    return kept[subject]


def _described(drawn: dict, subject: str) -> str:
    parts = [_sentence(subject)]
    axes = [_title(drawn["layout"].get(axis)) for axis in ("xaxis", "yaxis")]
    if all(axes):
        parts.append(f"Across: {axes[0]}; up: {axes[1]}.")
    traces = [trace for trace in drawn["data"] if trace.get("visible", True) is not False]
    pictures = sum(trace.get("type") == "image" for trace in traces)
    described = [text for text in map(_trace_alt, traces) if text]
    parts += [_sentence(text) for text in described[:DESCRIBED]]
    if len(described) > DESCRIBED:
        parts.append(f"{len(described) - DESCRIBED} more panels like these.")
    if pictures:
        parts.append(f"{pictures} picture{'s' * (pictures > 1)}.")
    return " ".join(parts)


def _title(axis: dict | None) -> str:
    title = (axis or {}).get("title")
    text = title.get("text", "") if isinstance(title, dict) else str(title or "")
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _values(data: object) -> np.ndarray | None:
    """A trace's array as NumPy: a list, an array, or Plotly's {"dtype", "bdata", "shape"} form; None if absent."""
    if data is None:
        return None
    if isinstance(data, dict):
        flat = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        shape = tuple(int(n) for n in str(data.get("shape", len(flat))).split(","))
        return flat.reshape(shape)
    return np.asarray(data, dtype=object)


def _numbers(data: object) -> np.ndarray | None:
    """A trace's values as floats (None, a gap, as NaN); None if absent or not numbers (e.g. category names)."""
    values = _values(data)
    if values is None:
        return None
    try:
        return np.asarray(np.where(values == None, np.nan, values), dtype=float)  # noqa: E711
    except (TypeError, ValueError):
        return None


def _trace_alt(trace: dict) -> str:
    describe = {"heatmap": _heatmap_alt, "bar": _bar_alt, "scatter": _scatter_alt, "scattergl": _scatter_alt}
    kind = trace.get("type", "scatter")
    return describe[kind](trace) if kind in describe else ""


def _label(trace: dict, fallback: str) -> str:
    return str(trace.get("name") or fallback)


def _heatmap_alt(trace: dict) -> str:
    z = _numbers(trace.get("z"))
    if z is None or z.ndim != 2 or np.isnan(z).all():
        return ""
    row, col = np.unravel_index(np.nanargmax(z), z.shape)
    x, y = _values(trace.get("x")), _values(trace.get("y"))
    labelled = x is not None and y is not None and len(x) == z.shape[1] and len(y) == z.shape[0]
    place = (
        f"{y[row]}, {x[col]}" if labelled and x is not None and y is not None else f"row {row + 1}, column {col + 1}"
    )
    return (
        f"{_label(trace, 'Map')} {z.shape[0]}x{z.shape[1]}: values from {number(np.nanmin(z))} to "
        f"{number(np.nanmax(z))}, highest at {place}"
    )


def _bar_alt(trace: dict) -> str:
    along, across = ("x", "y") if trace.get("orientation") == "h" else ("y", "x")
    values = _numbers(trace.get(along))
    if values is None or not len(values):
        return ""
    names = _values(trace.get(across))
    labels = [str(n) for n in names] if names is not None else [str(i + 1) for i in range(len(values))]
    name = _label(trace, "Bars")
    if len(values) <= LISTED:
        return f"{name}: " + ", ".join(f"{label} {number(v)}" for label, v in zip(labels, values))
    high, low = int(np.nanargmax(values)), int(np.nanargmin(values))
    return (
        f"{name}, {len(values)} bars: highest {labels[high]} {number(values[high])}, "
        f"lowest {labels[low]} {number(values[low])}"
    )


def _scatter_alt(trace: dict) -> str:
    y = _numbers(trace.get("y"))
    if y is None or y.ndim != 1 or not len(y) or np.isnan(y).all():
        return ""
    given = _values(trace.get("x"))
    x = list(given) if given is not None else list(range(1, len(y) + 1))
    name = _label(trace, "Points")
    if "lines" not in trace.get("mode", "lines"):
        return f"{name}: {len(y)} point{'s' * (len(y) > 1)}"
    if len(y) <= LISTED:
        return f"{name}: " + ", ".join(f"{_x(a)}: {number(b)}" for a, b in zip(x, y))
    best = int(np.nanargmax(y))
    return (
        f"{name}, {len(y)} points: from {number(y[0])} at {_x(x[0])} to {number(y[-1])} at {_x(x[-1])}, "
        f"highest {number(y[best])} at {_x(x[best])}"
    )


def _x(value: object) -> str:
    return number(value) if isinstance(value, int | float | np.number) else str(value)


def shape_flow_alt(shapes: Sequence[tuple[int, ...]], operations: Sequence[str]) -> str:
    """A shape-flow diagram in words: each tensor's shape and number of values, with the step that made it."""
    stages = [
        f"{' '.join(operation.split())} {'x'.join(map(str, shape))} ({int(np.prod(shape)):,} values)".strip()
        for shape, operation in zip(shapes, operations)
    ]
    return "The tensor at each stage, drawn to scale: " + " -> ".join(stages) + "."


def steps_alt(titles: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> str:
    """Preprocessing steps as pictures, in words: each step's name and size (height x width)."""
    listed = ", ".join(
        f"{n}. {title} ({shape[0]}x{shape[1]})" for n, (title, shape) in enumerate(zip(titles, shapes), 1)
    )
    return f"The picture after each preprocessing step: {listed}."


def pictures_alt(what: str, labels: Sequence[str]) -> str:
    """A row or grid of pictures: what they are, then each one's label in reading order."""
    plain = [" ".join(re.sub(r"<[^>]+>", " ", label).split()) for label in labels]  # Plotly's <br> and <b> out
    return f"{len(plain)} pictures, {what}: {'; '.join(plain)}." if plain else f"{what}."


def all_maps_alt(maps: np.ndarray, layer: str) -> str:
    """A layer's feature maps (height, width, filters): how many stay 0 and which respond most."""
    peaks = maps.max(axis=(0, 1))
    order = np.argsort(-peaks, kind="stable")[:3]
    return (
        f"All {maps.shape[2]} {maps.shape[0]}x{maps.shape[1]} feature maps of {layer}: "
        f"{int((peaks == 0).sum())} stay 0; strongest filters "
        + ", ".join(f"{int(f)} (peak {number(peaks[f])})" for f in order)
        + "."
    )


def embedding_alt(coordinates: np.ndarray, labels: np.ndarray, class_names: Sequence[str], method: str) -> str:
    """A 2-D map of test images in words: where each class's points lie (their mean) and which class sits apart."""
    centres = {c: coordinates[labels == c].mean(axis=0) for c in range(len(class_names)) if (labels == c).any()}
    middle = np.mean(list(centres.values()), axis=0)
    apart = max(centres, key=lambda c: float(np.linalg.norm(centres[c] - middle)))
    listed = "; ".join(f"{class_names[c]} around ({number(x)}, {number(y)})" for c, (x, y) in centres.items())
    return (
        f"{method} map of {len(labels):,} test images, one marker symbol and colour per true class. "
        f"Class centres: {listed}. Furthest from the rest: {class_names[apart]}."
    )
