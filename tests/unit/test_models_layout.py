"""models/ by concern: code only in subpackages, each module listed in docs/architecture.md and the README's tree,
and no package's `__init__` loading TensorFlow."""

import json
import re
import subprocess
import sys

from tests.support.browser import ROOT

MODELS = ROOT / "models"
PACKAGES = sorted(p.name for p in MODELS.iterdir() if (p / "__init__.py").is_file())


def package_modules(package: str) -> list[str]:
    return sorted(f.name for f in (MODELS / package).rglob("*.py") if f.name != "__init__.py")


def test_the_top_of_models_holds_the_shipped_files_and_no_code():
    code = sorted(f.name for f in MODELS.glob("*.py"))
    assert code == ["__init__.py"]
    assert (MODELS / "fashion_cnn.keras").is_file() and (MODELS / "fashion_dnn.keras").is_file()


def test_architecture_md_lists_every_module_under_its_package():
    text = (ROOT / "docs" / "architecture.md").read_text()
    for package in PACKAGES:
        section = re.search(rf"#### models/{package}/:(.*?)(?=\n###|\Z)", text, re.S)
        assert section, f"docs/architecture.md has no section for models/{package}/"
        missing = [name for name in package_modules(package) if f"`{name}`" not in section[1]]
        assert not missing, f"models/{package}/ modules missing from docs/architecture.md: {missing}"


def test_the_readme_tree_lists_every_module_under_its_package():
    text = (ROOT / "README.md").read_text()
    for package in PACKAGES:
        entry = re.search(rf"\n  {package}/ +(.*?)(?=\n  \S)", text, re.S)
        assert entry, f"README.md's tree has no line for models/{package}/"
        words = set(re.findall(r"\w+", entry[1]))
        missing = [name for name in package_modules(package) if name.removesuffix(".py") not in words]
        assert not missing, f"models/{package}/ modules missing from README.md's tree: {missing}"


def test_importing_every_package_loads_no_tensorflow():
    names = ["models", *(f"models.{p}" for p in PACKAGES), "models.training.executors"]
    code = "import importlib, json, sys\nfor n in sys.argv[1:]: importlib.import_module(n)\n"
    code += "print(json.dumps(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
