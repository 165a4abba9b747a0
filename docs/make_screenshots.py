"""Write the README's page pictures, docs/<page>.png: 900-pixel-wide copies of full-page Chromium screenshots.

Pages are served and captured here as a first visit shows them, except those in RICHER_STATE, whose picture is
a later state captured by their browser test. Run from the repository root:

    .venv/bin/python -m pytest tests/browser/test_browser_predict.py tests/app/test_training_page.py \
        tests/browser/test_browser_class.py -k "browser or drawing or lecturer"
    .venv/bin/python docs/make_screenshots.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.catalog import ALL_PAGES  # noqa: E402
from tests.support.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    page_url,
    screenshot,
    served_app,
    wait_until_idle,
)

DOCS = ROOT / "docs"
WIDTH = 900
# Pages whose most telling picture is a later state, captured by a browser test: page url -> screenshot name.
RICHER_STATE = {"training": "training-compare", "predict": "predict_drawing", "class": "class-projector"}


def shrink(source: Path, target: Path, width: int = WIDTH) -> tuple[int, int]:
    """Save a copy of `source` `width` pixels wide (same aspect ratio, 256-colour PNG); returns its size."""
    with Image.open(source) as image:
        height = round(image.height * width / image.width)
        small = image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    small.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(target, optimize=True)
    return width, height


def capture_first_views(specs) -> dict[str, Path]:
    """Serve the app and take a full-page screenshot of each page at 1400x900, as tests/browser/test_browser.py does."""
    from playwright.sync_api import sync_playwright

    shots = {}
    with served_app() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for spec in specs:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(page_url(base, spec))
            wait_until_idle(page)
            if page.locator('[data-testid="stException"], [role="dialog"]').count():
                raise RuntimeError(f"{spec.title} shows an exception or a dialog; fix it before taking pictures")
            shots[spec.url_path] = screenshot(page, f"docs-{spec.url_path}")
            page.close()
        browser.close()
    return shots


def main() -> int:
    richer = {
        spec.url_path: SCREENSHOTS / f"{RICHER_STATE[spec.url_path]}.png"
        for spec in ALL_PAGES
        if spec.url_path in RICHER_STATE
    }
    missing = [str(path.relative_to(ROOT)) for path in richer.values() if not path.is_file()]
    if missing:
        print(f"Missing {', '.join(missing)}: run the browser tests named in this script's docstring first.")
        return 1
    SCREENSHOTS.mkdir(exist_ok=True)
    sources = {**capture_first_views([spec for spec in ALL_PAGES if spec.url_path not in richer]), **richer}
    for spec in ALL_PAGES:
        width, height = shrink(sources[spec.url_path], DOCS / f"{spec.url_path}.png")
        print(f"docs/{spec.url_path}.png  {width}x{height}  from {sources[spec.url_path].relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
