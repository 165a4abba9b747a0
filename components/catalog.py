"""The lab's pages, defined once for navigation and for the Home page's links."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    url_path: str
    blurb: str


HOME = PageSpec("pages/home.py", "Home", ":material/home:", "home", "What the lab teaches.")
TOUR = PageSpec(
    "pages/tour.py",
    "Week 3 tour",
    ":material/tour:",
    "tour",
    "Step through the week's story with the live widgets: filters, pooling, the model, training, feature maps.",
)

LESSONS: list[PageSpec] = [
    PageSpec(
        "pages/filters.py",
        "Filters",
        ":material/filter:",
        "filters",
        "Slide a small kernel over any image and watch it pick out edges; meet the filters the network learned.",
    ),
    PageSpec(
        "pages/pooling.py",
        "Pooling",
        ":material/grid_view:",
        "pooling",
        "How pooling shrinks a feature map, what it keeps, and why small shifts matter less.",
    ),
    PageSpec(
        "pages/architecture.py",
        "Architecture",
        ":material/account_tree:",
        "architecture",
        "Shapes, parameters and compute of every layer; build your own CNN.",
    ),
    PageSpec(
        "pages/training.py",
        "Training",
        ":material/model_training:",
        "training",
        "Train the course CNN or a variant and watch it learn: live curves, runs compared, filters forming.",
    ),
    PageSpec(
        "pages/inspect.py",
        "Inspect",
        ":material/visibility:",
        "inspect",
        "Look inside the trained network: feature maps, learned filters, its mistakes and why it predicts.",
    ),
    PageSpec(
        "pages/predict.py",
        "Predict",
        ":material/draw:",
        "predict",
        "Classify your own drawing or photo, with every preprocessing step shown.",
    ),
    PageSpec(
        "pages/deeper.py",
        "Deeper",
        ":material/layers:",
        "deeper",
        "Beyond week 3: the sum over 64 channels, receptive fields, what filters want to see, fooling the network.",
    ),
]

CLASS = PageSpec(
    "pages/class.py",
    "Class",
    ":material/groups:",
    "class",
    "For a class: join with a code, answer the tour's questions live, follow the lecturer, share runs to a board.",
)

ALL_PAGES: list[PageSpec] = [HOME, TOUR, *LESSONS, CLASS]
