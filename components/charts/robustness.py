"""The Robustness tab's pictures: one small accuracy curve per corruption, and a test image at each level."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from components.charts.common import FONT

INK = dict(FONT, color="#222222")
COLOURS = ("#54A24B", "#4C78A8", "#F58518")  # the chosen run, the shipped CNN, the dense baseline
DASHES = ("solid", "solid", "dot")
SCALE = 3  # each 28x28 example drawn 84 pixels square
GAP = 6
LABEL_PX = 28


def curve_figure(
    title: str, unit: str, levels: Sequence[float], lines: Sequence[tuple[str, Sequence[float]]], *, height: int = 230
) -> go.Figure:
    """Accuracy (%) against the corruption's level, one line per model (at most three)."""
    data = [
        go.Scatter(
            x=list(levels),
            y=[100 * a for a in values],
            name=name,
            mode="lines+markers",
            line=dict(color=colour, width=3, dash=dash),
            marker=dict(size=7),
            hovertemplate=f"{name}: {title.lower()} %{{x}}: %{{y:.1f}}% correct<extra></extra>",
        )
        for (name, values), colour, dash in zip(lines, COLOURS[-len(lines) :], DASHES[-len(lines) :])
    ]
    figure = go.Figure(data)
    figure.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=10, b=10),
        font=FONT,
        plot_bgcolor="white",
        paper_bgcolor="white",
        showlegend=False,  # the tab says once which colour is which model
        xaxis=dict(
            title=dict(text=unit, font=INK), tickfont=INK, tickangle=0, nticks=8, gridcolor="#e5e5e5", zeroline=False
        ),
        yaxis=dict(
            title=dict(text="accuracy (%)", font=INK), range=[0, 100], tickfont=INK, gridcolor="#e5e5e5", dtick=25
        ),
    )
    return figure


def legend_html(names: Sequence[str]) -> str:
    """Which colour (and dash) is which model, as one line of HTML under the curves."""
    keys = zip(names, COLOURS[-len(names) :], DASHES[-len(names) :])
    return " &nbsp; ".join(
        f'<span style="color:{colour};font-weight:bold">{"┅┅" if dash == "dot" else "━━"}</span> {name}'
        for name, colour, dash in keys
    )


def example_strip(images: Sequence[np.ndarray], labels: Sequence[str]) -> bytes:
    """Float images (28, 28) in [0, 1] side by side, each enlarged SCALE times with its level written under it,
    as PNG bytes (a few kilobytes)."""
    height, width = images[0].shape
    tile_w, tile_h = width * SCALE, height * SCALE
    strip = Image.new("L", (len(images) * (tile_w + GAP) - GAP, tile_h + LABEL_PX), 255)
    draw = ImageDraw.Draw(strip)
    font = ImageFont.load_default(size=22)
    for n, (image, label) in enumerate(zip(images, labels)):
        pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        left = n * (tile_w + GAP)
        strip.paste(Image.fromarray(pixels).resize((tile_w, tile_h), Image.Resampling.NEAREST), (left, 0))
        draw.text((left + tile_w / 2, tile_h + 2), label, fill=0, font=font, anchor="ma")
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
