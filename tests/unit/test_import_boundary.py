"""TensorFlow loads only when a page needs a model: a fresh interpreter checks the import boundary."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support.browser import ROOT


def tf_free_modules() -> list[str]:
    """The modules pyproject.toml's TensorFlow contract names, packages expanded to their modules."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    names = next(c["source_modules"] for c in contracts if c.get("forbidden_modules") == ["tensorflow", "keras"])
    modules = []
    for name in names:
        path = ROOT / name.replace(".", "/")
        if path.is_dir():
            modules += [
                ".".join(file.relative_to(ROOT).with_suffix("").parts)
                for file in sorted(path.rglob("*.py"))
                if file.stem != "__init__"
            ]
        else:
            modules.append(name)
    return modules


TF_FREE_MODULES = [
    *(
        name
        for name in tf_free_modules()
        if not name.startswith(("components.sections.inspect", "components.sections.deeper"))
    ),  # they run a model
    "models.networks.worker",  # imports TensorFlow only inside run_job
]
TF_FREE_PAGES = [
    "pages/home.py",
    "pages/tour.py",
    "pages/filters.py",
    "pages/pooling.py",
    "pages/architecture.py",
    "pages/training.py",
]

IMPORT_PROBE = """
import importlib, json, sys
loaded = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    loaded[name] = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
print(json.dumps(loaded))
"""

PAGES_PROBE = """
import json, sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file("app.py", default_timeout=120).run()
loaded = {}
for page in sys.argv[1:]:
    app.switch_page(page).run()
    assert not app.exception and app.title, [e.message for e in app.exception]
    loaded[page] = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
print(json.dumps(loaded))
"""


def run_probe(code: str, *args: str) -> dict[str, list[str]]:
    """Run `code` in a fresh interpreter at the repository root; it prints {name: modules loaded so far}."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_components_and_light_models_modules_do_not_import_tensorflow():
    loaded = run_probe(IMPORT_PROBE, *TF_FREE_MODULES)
    assert {name: mods for name, mods in loaded.items() if mods} == {}


def test_the_probe_sees_tensorflow_when_a_module_imports_it():
    loaded = run_probe(IMPORT_PROBE, "models.inputs.fashion_mnist", "models.networks.zoo")
    assert loaded == {"models.inputs.fashion_mnist": [], "models.networks.zoo": ["keras", "tensorflow"]}


def test_pages_without_a_model_run_without_tensorflow():
    loaded = run_probe(PAGES_PROBE, *TF_FREE_PAGES)
    assert {page: mods for page, mods in loaded.items() if mods} == {}
