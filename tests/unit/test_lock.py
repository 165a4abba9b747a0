"""scripts/lock.py check: the locked requirements match their .in files, and each way they drift apart is named.

Each case edits a copy of the project's own four requirement files; nothing reaches the network.
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "lock.py"
FILES = ("requirements.in", "requirements-dev.in", "requirements.txt", "requirements-dev.txt")

_spec = importlib.util.spec_from_file_location("lock", SCRIPT)
lock = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lock)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A folder holding the project's requirement files and scripts/lock.py."""
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts" / "lock.py")
    return tmp_path


def _pinned(path: Path, name: str) -> str:
    """The version a compiled file pins for a package pinned once."""
    (version,) = lock._pins(path.parent, path.name)[name]
    return str(version)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_projects_lock_is_up_to_date():
    assert lock.problems(ROOT) == []


def test_every_package_is_pinned_with_hashes_and_tensorflow_cpu_only_on_linux_x86_64():
    text = (ROOT / "requirements.txt").read_text()
    version = _pinned(ROOT / "requirements.txt", "tensorflow-cpu")
    assert f"tensorflow-cpu=={version} ; platform_machine == 'x86_64' and sys_platform == 'linux'" in text
    assert f"tensorflow=={version} ; platform_machine != 'x86_64' or sys_platform != 'linux'" in text
    pins = lock._pins(ROOT, "requirements-dev.txt")  # raises for a line without a pin or a hash
    assert {"streamlit", "keras", "uv", "pytest"} <= pins.keys()


def test_a_comment_edit_leaves_the_lock_up_to_date(copy: Path):
    (copy / "requirements.in").write_text((copy / "requirements.in").read_text() + "\n# a note for the next bump\n")
    assert lock.problems(copy) == []


def test_a_requirement_added_to_the_input_makes_the_check_fail_until_make_lock(copy: Path):
    with (copy / "requirements.in").open("a") as file:
        file.write("cowsay>=6\n")
    run = subprocess.run([sys.executable, "scripts/lock.py", "check"], cwd=copy, capture_output=True, text=True)
    assert run.returncode == 1
    assert "lock: requirements.in has changed since requirements.txt was compiled from it: run `make lock`" in (
        run.stderr
    )
    assert "requirements.in has changed since requirements-dev.txt" in run.stderr  # the dev lock includes it
    assert "requirements.txt pins cowsay at nothing, not `cowsay>=6` (requirements.in)" in run.stderr


def test_a_range_narrowed_past_the_pin_is_named(copy: Path):
    _edit(copy / "requirements-dev.in", "\npytest>=", "\npytest>=99,<100,>=")
    found = lock.problems(copy)
    assert "requirements-dev.in has changed since requirements-dev.txt was compiled from it" in found[0]
    pinned = _pinned(copy / "requirements-dev.txt", "pytest")
    assert f"requirements-dev.txt pins pytest at {pinned}, not `pytest>=99,<100,>=" in found[1]


def test_a_version_edited_by_hand_in_the_lock_is_caught(copy: Path):
    pinned = _pinned(copy / "requirements.txt", "streamlit")
    _edit(copy / "requirements.txt", f"\nstreamlit=={pinned} ", "\nstreamlit==1.52.0 ")
    (line,) = [line for line in lock._requirement_lines(copy / "requirements.in") if line.startswith("streamlit>=")]
    assert lock.problems(copy) == [
        f"requirements.txt pins streamlit at 1.52.0, not `{line}` (requirements.in): "
        "run `make lock` (it needs the network), then the test suite."
    ]


def test_the_dev_lock_must_pin_the_runtime_packages_as_the_runtime_lock_does(copy: Path):
    pinned = _pinned(copy / "requirements.txt", "narwhals")  # a runtime package no .in file names
    _edit(copy / "requirements-dev.txt", f"\nnarwhals=={pinned} ", "\nnarwhals==0.1 ")
    assert lock.problems(copy) == [
        f"requirements-dev.txt pins narwhals at ['0.1'], requirements.txt at ['{pinned}']: "
        "run `make lock` (it needs the network), then the test suite."
    ]


def test_a_line_added_to_the_lock_by_hand_has_no_hash(copy: Path):
    with (copy / "requirements.txt").open("a") as file:
        file.write("cowsay>=6\n")
    found = lock.problems(copy)
    assert found == [
        "requirements.txt: `cowsay>=6` is not a pin with hashes (added by hand?): put the range in requirements.in, "
        "then run `make lock` (it needs the network), then the test suite."
    ]


def test_a_lock_without_fingerprint_or_file_is_named(copy: Path):
    _edit(copy / "requirements-dev.txt", "# sha256 of the requirement lines of requirements-dev.in", "# edited")
    (copy / "requirements.txt").unlink()
    found = lock.problems(copy)
    assert found[0] == "requirements.txt is missing: run `make lock` (it needs the network), then the test suite."
    assert found[1].startswith("requirements-dev.txt was not compiled from requirements-dev.in by `make lock`")


def test_make_test_checks_the_lock_first_and_make_lock_compiles(monkeypatch):
    for name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"):  # under `make test` this would be a sub-make
        monkeypatch.delenv(name, raising=False)

    def commands(*target: str) -> list[str]:
        run = subprocess.run(["make", "--no-print-directory", "-n", *target], cwd=ROOT, capture_output=True, text=True)
        return [line.split("  #")[0].strip() for line in run.stdout.splitlines()]

    test = commands("test")
    assert test.index(".venv/bin/python scripts/lock.py check") + 1 == test.index(
        ".venv/bin/python scripts/ensure_system.py data browser nginx postgresql axe"
    )
    assert commands("lock", "LOCK_ARGS=--upgrade")[-1] == ".venv/bin/python scripts/lock.py compile --upgrade"
