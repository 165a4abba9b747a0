"""The locked requirements: `make lock` compiles them, `make test` checks them first (offline).

requirements.in and requirements-dev.in hold ranges; requirements.txt and requirements-dev.txt are compiled from
them by uv (`uv pip compile --universal --generate-hashes`): the exact version and the hashes of every package,
transitive ones included, for every platform, with markers where the platforms differ. Each compiled file records
a fingerprint of the requirement lines of its inputs (comments and blank lines left out), so the check needs no
network: a fingerprint that no longer matches, a requirement of an .in file that is not pinned at a version its
specifier allows, a pin without a hash, or a runtime package pinned at another version in requirements-dev.txt
is reported with what to run.

    python scripts/lock.py compile [uv options]   # make lock [LOCK_ARGS="--upgrade-package streamlit"] (network)
    python scripts/lock.py check                  # make test
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {"requirements.txt": "requirements.in", "requirements-dev.txt": "requirements-dev.in"}  # in compile order
RUNTIME, DEV = LOCKS
PYTHON_VERSION = "3.11"  # the oldest Python the lock must install on (the lab is tested on it: README)
FINGERPRINT = "# sha256 of the requirement lines of "
RELOCK = "run `make lock` (it needs the network), then the test suite"


def compile_locks(options: list[str], root: Path = ROOT) -> None:
    """Compile every .in file into its locked .txt with uv, keeping the pins already there where they still fit
    (unless the uv options say otherwise, such as --upgrade-package NAME)."""
    for locked, source in LOCKS.items():
        command = [sys.executable, "-m", "uv", "pip", "compile", "--quiet", "--universal", "--generate-hashes"]
        command += ["--python-version", PYTHON_VERSION, "--custom-compile-command", "make lock", *options]
        subprocess.run([*command, source, "--output-file", locked], cwd=root, check=True)
        _record_fingerprints(root, locked, source)


def problems(root: Path = ROOT) -> list[str]:
    """What makes the locked files out of date with their inputs (empty when they match)."""
    found = []
    for locked, source in LOCKS.items():
        if not (root / locked).is_file():
            found.append(f"{locked} is missing: {RELOCK}.")
            continue
        found += _stale_fingerprints(root, locked, source) + _unpinned(root, locked, source)
    if not found:
        found += _mismatched_runtime(root)
    return found


def _inputs(root: Path, source: str) -> list[str]:
    """The .in file and every .in file it includes with -r, in the order they are read."""
    names = [source]
    for line in _requirement_lines(root / source):
        if line.startswith("-r "):
            names += [name for name in _inputs(root, line[3:].strip()) if name not in names]
    return names


def _requirement_lines(path: Path) -> list[str]:
    """The file's lines without comments, surrounding spaces and blank lines."""
    lines = (re.sub(r"(^|\s)#.*", "", line).strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _fingerprint(root: Path, source: str) -> str:
    return hashlib.sha256("\n".join(_requirement_lines(root / source)).encode()).hexdigest()


def _record_fingerprints(root: Path, locked: str, source: str) -> None:
    """Put the fingerprint of each input after the compiled file's opening comment."""
    lines = (root / locked).read_text().splitlines(keepends=True)
    header = next(index for index, line in enumerate(lines) if not line.startswith("#"))
    marks = [f"{FINGERPRINT}{name}: {_fingerprint(root, name)}\n" for name in _inputs(root, source)]
    (root / locked).write_text("".join(lines[:header] + marks + lines[header:]))


def _stale_fingerprints(root: Path, locked: str, source: str) -> list[str]:
    text = (root / locked).read_text()
    found = []
    for name in _inputs(root, source):
        recorded = re.search(rf"^{re.escape(FINGERPRINT + name)}: ([0-9a-f]{{64}})$", text, re.MULTILINE)
        if recorded is None:
            found.append(f"{locked} was not compiled from {name} by `make lock` (no fingerprint): {RELOCK}.")
        elif recorded.group(1) != _fingerprint(root, name):
            found.append(f"{name} has changed since {locked} was compiled from it: {RELOCK}.")
    return found


def _pins(root: Path, locked: str) -> dict[str, set[Version]]:
    """The versions a compiled file pins for each package (several when markers split a package by platform)."""
    pins: dict[str, set[Version]] = {}
    for entry in re.sub(r"\\\n", " ", (root / locked).read_text()).splitlines():
        entry = re.sub(r"(^|\s)#.*", "", entry).strip()
        if not entry:
            continue
        requirement, _, options = entry.partition(" --")
        pinned = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)(\s*;.*)?", requirement.strip())
        if pinned is None or "hash=sha256:" not in options:
            raise ValueError(f"{locked}: `{requirement.strip()}` is not a pin with hashes")
        pins.setdefault(canonicalize_name(pinned.group(1)), set()).add(Version(pinned.group(2)))
    return pins


def _unpinned(root: Path, locked: str, source: str) -> list[str]:
    """Each requirement of the inputs that the compiled file leaves out or pins at a version it does not allow."""
    try:
        pins = _pins(root, locked)
    except ValueError as error:
        return [f"{error} (added by hand?): put the range in {source}, then {RELOCK}."]
    found = []
    for name in _inputs(root, source):
        for line in _requirement_lines(root / name):
            if line.startswith("-"):
                continue
            try:
                requirement = Requirement(line)
            except InvalidRequirement as error:
                found.append(f"{name}: {error}")
                continue
            versions = pins.get(canonicalize_name(requirement.name), set())
            allowed = [version for version in versions if requirement.specifier.contains(version, prereleases=True)]
            if not allowed:
                pinned = ", ".join(sorted(str(version) for version in versions)) or "nothing"
                found.append(f"{locked} pins {requirement.name} at {pinned}, not `{line}` ({name}): {RELOCK}.")
    return found


def _mismatched_runtime(root: Path) -> list[str]:
    """Runtime packages that requirements-dev.txt pins at other versions than requirements.txt."""
    runtime, dev = _pins(root, RUNTIME), _pins(root, DEV)
    return [
        f"{DEV} pins {name} at {sorted(map(str, dev.get(name, ())))}, {RUNTIME} at {sorted(map(str, versions))}: "
        f"{RELOCK}."
        for name, versions in sorted(runtime.items())
        if dev.get(name) != versions
    ]


def main(argv: list[str]) -> int:
    if argv[:1] == ["compile"]:
        try:
            compile_locks(argv[1:])
        except subprocess.CalledProcessError as error:  # uv has said why
            print(
                f"lock: uv stopped (exit {error.returncode}); the files it had not reached are unchanged",
                file=sys.stderr,
            )
            return 1
        return 0
    if argv == ["check"]:
        found = problems()
        for problem in found:
            print(f"lock: {problem}", file=sys.stderr)
        return 1 if found else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
