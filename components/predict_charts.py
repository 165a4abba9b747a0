"""Plotly figures for the Predict page: the preprocessing steps and the top-k class probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from components.charts import FONT
from components.inspect_charts import HOVER, TITLE_FONT, _gray, _image_axes
from components.preprocess import Step

DISPLAY_SIDE = 160  # larger step images are shown reduced to this long side (display only)
PAGE_GRAY = "#e8eaee"  # behind the step images, so white backgrounds show where they end


def display_copy(image: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """`image` (float in [0, 1]) reduced with box averaging so its long side is at most `side`."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if image.ndim == 2:
        return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX))
    channels = [Image.fromarray(image[..., c].astype(np.float32), mode="F").resize(size, Image.Resampling.BOX)
                for c in range(image.shape[2])]
    return np.stack([np.asarray(channel) for channel in channels], axis=2)


def steps_figure(steps: Sequence[Step], *, per_row: int = 4, cell: int = 230) -> go.Figure:
    """One panel per step, `per_row` a row, titled with its number, name and size, on a light gray page so
    white pictures keep their edges; gray steps hover their values."""
    rows = -(-len(steps) // per_row)
    titles = [f"{number}. {step.title} ({step.image.shape[1]}x{step.image.shape[0]})"
              for number, step in enumerate(steps, start=1)]
    fig = make_subplots(rows=rows, cols=per_row, subplot_titles=titles, horizontal_spacing=0.03,
                        vertical_spacing=0.12)
    for position, step in enumerate(steps):
        shown = display_copy(step.image)
        row, column = position // per_row + 1, position % per_row + 1
        if shown.ndim == 3:
            fig.add_trace(go.Image(z=np.rint(np.clip(shown, 0, 1) * 255).astype(np.uint8), hoverinfo="skip"),
                          row=row, col=column)
        else:
            fig.add_trace(_gray(shown, "value"), row=row, col=column)
    _image_axes(fig, rows * per_row)
    fig.update_annotations(font=dict(TITLE_FONT, size=15), yshift=8)
    fig.update_layout(height=rows * cell + 50, margin=dict(l=5, r=5, t=50, b=5), hoverlabel=HOVER,
                      plot_bgcolor=PAGE_GRAY, paper_bgcolor=PAGE_GRAY, font=FONT)
    return fig


def top_k_figure(probabilities: np.ndarray, class_names: Sequence[str], k: int = 5) -> go.Figure:
    """The `k` most probable classes as horizontal bars, the most probable on top, with their percentages."""
    probabilities = np.asarray(probabilities, dtype=float)
    order = np.argsort(-probabilities, kind="stable")[:k]
    fig = go.Figure(go.Bar(
        x=probabilities[order], y=[class_names[c] for c in order], orientation="h",
        marker=dict(color=["#1f5fa8", *["#a9bcd6"] * (len(order) - 1)]),
        text=[f"{probabilities[c]:.1%}" for c in order], textposition="outside", textfont=FONT, cliponaxis=False,
        hovertemplate="%{y}: %{x:.4f}<extra></extra>",
    ))
    fig.update_xaxes(range=[0, 1.25], tickvals=[0, 0.5, 1], tickformat=".0%", tickfont=FONT,
                     title=dict(text="probability", font=FONT))
    fig.update_yaxes(autorange="reversed", tickfont=FONT)
    fig.update_layout(height=60 + 44 * len(order), margin=dict(l=10, r=10, t=10, b=10), hoverlabel=HOVER,
                      plot_bgcolor="white", font=FONT, showlegend=False)
    return fig
