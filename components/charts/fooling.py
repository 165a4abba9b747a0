"""Plotly figures for the Deeper page's Fooling tab: an image, its perturbation amplified, the adversarial image;
the class probabilities before and after. Pure plotting: (28, 28) float arrays in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from components.charts.common import FONT
from components.charts.inspect import HOVER, TITLE_FONT, WEIGHT_SCALE, probability_figure

PANEL_GAP = 0.06  # share of the width between two of the three pictures
BAR_HEIGHT = 300  # the probability charts, lower than Inspect's so both fit beside the pictures


def amplification(epsilon: float) -> float:
    """How much the perturbation picture is amplified: +-epsilon is drawn at full colour, i.e. x 1 / epsilon."""
    return 1.0 / epsilon if epsilon > 0 else 1.0


def perturbation_title(epsilon: float) -> str:
    return f"perturbation x{amplification(epsilon):.0f}" if epsilon > 0 else "perturbation (none)"


def perturbation_caption(epsilon: float, largest: float) -> str:
    """What the perturbation picture shows, with its scale."""
    if epsilon <= 0:
        return "ε = 0: no pixel may move, so the adversarial image is the original."
    return (
        f"Perturbation (adversarial - original) x{amplification(epsilon):.0f}: full red +{epsilon:.3f} (brighter), "
        f"full blue -{epsilon:.3f} (darker), white unchanged; largest change {largest:.3f}. Pixels stay in [0, 1], "
        "so black background that the gradient would darken stays unchanged."
    )


def attack_figure(original: np.ndarray, adversarial: np.ndarray, epsilon: float, titles: Sequence[str]) -> go.Figure:
    """Three 28x28 pictures: the original, adversarial - original on a red/blue scale from -epsilon to +epsilon
    (so amplified 1 / epsilon times; red brighter, blue darker, white unchanged), and the adversarial image."""
    original, adversarial = np.asarray(original, np.float32), np.asarray(adversarial, np.float32)
    change = adversarial - original
    width = (1 - 2 * PANEL_GAP) / 3
    span = max(float(epsilon), 1e-6)
    layout: dict = {}
    data = []
    panels = [
        (original, "Gray", 0.0, 1.0, "pixel %{z:.3f}"),
        (change, WEIGHT_SCALE, -span, span, "change %{z:+.3f}"),
        (adversarial, "Gray", 0.0, 1.0, "pixel %{z:.3f}"),
    ]
    annotations, frames = [], []
    for number, (values, scale, low, high, hover) in enumerate(panels):
        suffix = "" if number == 0 else str(number + 1)
        left = number * (width + PANEL_GAP)
        layout[f"xaxis{suffix}"] = dict(domain=[left, left + width], visible=False, constrain="domain")
        layout[f"yaxis{suffix}"] = dict(
            domain=[0, 1], visible=False, autorange="reversed", scaleanchor=f"x{suffix}", constrain="domain"
        )
        data.append(
            dict(
                type="heatmap",
                z=values,
                colorscale=scale,
                zmin=low,
                zmax=high,
                showscale=False,
                xaxis=f"x{suffix}",
                yaxis=f"y{suffix}",
                hovertemplate=f"row %{{y}}, col %{{x}}: {hover}<extra></extra>",
            )
        )
        frames.append(
            dict(
                type="rect",
                xref=f"x{suffix}",
                yref=f"y{suffix}",
                x0=-0.5,
                x1=27.5,
                y0=-0.5,
                y1=27.5,
                line=dict(color="#888", width=1),
            )
        )
        annotations.append(
            dict(
                text=titles[number],
                x=left + width / 2,
                y=1.0,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=TITLE_FONT,
            )
        )
    layout.update(
        annotations=annotations,
        shapes=frames,
        height=250,
        margin=dict(l=5, r=5, t=35, b=5),
        hoverlabel=HOVER,
        plot_bgcolor="white",
        paper_bgcolor="white",
        font=FONT,
    )
    return go.Figure(data=data, layout=layout)


def bars_figure(probabilities: np.ndarray, class_names: Sequence[str], true_class: int | None) -> go.Figure:
    """Inspect's class-probability bars (predicted class dark, true class outlined), at this tab's height."""
    return probability_figure(probabilities, class_names, true_class).update_layout(height=BAR_HEIGHT)
