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

LESSONS: list[PageSpec] = []

ALL_PAGES: list[PageSpec] = [HOME, *LESSONS]
