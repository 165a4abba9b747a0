"""Shared fixtures (the real Fashion-MNIST files, loaded once; a served app and Chromium) and each test's kind."""

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Saved runs of every test (AppTest and served apps alike) go to a throwaway folder, not ~/.cache/cnn-lab.
os.environ.setdefault("CNN_LAB_DATA_DIR", tempfile.mkdtemp(prefix="cnn-lab-tests-"))
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from models.inputs.fashion_mnist import load_fashion_mnist  # noqa: E402

TESTS = Path(__file__).resolve().parent
# Seconds a test waits for a training job to end: a bound reached only when the job never ends. Generous, because a
# loaded 2-core machine (CI beside other work) runs a job 5-10x slower; a claim about speed has its own bound.
DONE = 300.0
BROWSER_FIXTURES = {"browser", "app_url", "app_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its folder's kind (unit, app, browser, stack, registered in pytest.ini); a test in
    another folder that drives Chromium through the browser fixtures is a browser test too."""
    for item in items:
        kind = item.path.relative_to(TESTS).parts[0]
        item.add_marker(kind)
        if kind != "browser" and BROWSER_FIXTURES & set(item.fixturenames):
            item.add_marker("browser")


@pytest.fixture(scope="session")
def fashion():
    """((x_train, y_train), (x_test, y_test)) from the real IDX files."""
    return load_fashion_mnist()


@pytest.fixture(scope="session")
def app_server():
    """The app served by `streamlit run` for browser tests (its URL and data folder)."""
    from tests.support.browser import SCREENSHOTS, require_browser, streamlit_server

    require_browser()
    SCREENSHOTS.mkdir(exist_ok=True)
    with streamlit_server() as server:
        yield server


@pytest.fixture(scope="session")
def app_url(app_server):
    """Base URL of the app served by `streamlit run` for browser tests."""
    return app_server.url


@pytest.fixture(scope="session")
def browser():
    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture
def fresh_runs(monkeypatch, tmp_path):
    """The app's saved runs and training queue in a new folder for one AppTest test: its runs train there, never
    copied from an identical run another test finished (identical settings train once per data folder)."""
    from components import training_jobs

    monkeypatch.setenv("CNN_LAB_DATA_DIR", str(tmp_path / "cnn-lab-data"))
    training_jobs.run_store.clear()
    training_jobs._job_registry.clear()
    yield
    training_jobs.run_store.clear()
    training_jobs._job_registry.clear()
