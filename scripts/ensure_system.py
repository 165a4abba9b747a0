"""What `make run`, `make serve` and `make test` need from the machine, fetched when missing (Debian/Ubuntu).

    python3 scripts/ensure_system.py venv .venv            # the virtual environment (python3.X-venv if needed)
    .venv/bin/python scripts/ensure_system.py data         # Fashion-MNIST (`make run`, `make serve`, `make test`)
    .venv/bin/python scripts/ensure_system.py browser      # Chromium and its fonts, for the browser tests
    .venv/bin/python scripts/ensure_system.py nginx        # nginx, for `make serve` and the stack's tests
    .venv/bin/python scripts/ensure_system.py axe          # axe-core (npm), for the accessibility browser test
    .venv/bin/python scripts/ensure_system.py postgresql   # PostgreSQL, for the class store's database tests

When everything is there a step costs a few file checks. When something is missing it is installed with
apt-get, if apt-get runs without a password (as root, or `sudo -n`); Fashion-MNIST then falls back to the
data loader's own Keras download. Otherwise the step prints the command to run and the script exits 1, except
for Chromium, nginx and PostgreSQL: without them the browser tests (tests/support/browser.py), the stack's tests
(tests/stack/test_stack.py) and the class store's PostgreSQL tests (tests/stack/test_classroom.py) are skipped
locally and fail in CI, and `make serve` stops with the command (scripts/serve.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA_PACKAGE = "dataset-fashion-mnist"
# A file of each package the browser tests need: tests/support/browser.py drives /usr/bin/chromium.
BROWSER_FILES = {
    "chromium": Path("/usr/bin/chromium"),
    "fonts-dejavu-core": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
}
# The reverse proxy in front of `make serve`'s replicas (scripts/serve.py finds it there or on PATH).
NGINX_PACKAGE = "nginx"
NGINX_FILE = Path("/usr/sbin/nginx")
# axe-core from the npm registry, installed once into a cache folder (tests/browser.py's AXE_SCRIPT reads it there).
AXE_VERSION = "4.14.1"
AXE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cnn-lab" / f"axe-core-{AXE_VERSION}"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# The class store's tests start their own PostgreSQL server (initdb + pg_ctl) on localhost.
POSTGRESQL_PACKAGE = "postgresql"
POSTGRESQL_BIN = Path("/usr/lib/postgresql")


def say(message: str) -> None:
    print(f"setup: {message}", flush=True)


def tell_command(
    problem: str, command: str, *extra: str, advice: str = "run this once, then the same make command again:"
) -> None:
    """The message a newcomer acts on: what is missing and the one command that fixes it."""
    lines = [f"setup: {problem}", f"setup: {advice}", "", f"    {command}", "", *extra]
    print("\n".join(lines), file=sys.stderr, flush=True)


def apt_prefix() -> list[str] | None:
    """How to run apt-get without a password prompt: as root directly, else through `sudo -n`; None if neither."""
    if shutil.which("apt-get") is None:
        say("apt-get is not available here")
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n", "DEBIAN_FRONTEND=noninteractive"]
    say("not installing with apt-get: not root, and sudo is missing or asks for a password")
    return None


def apt_install(packages: list[str]) -> bool:
    """Install Debian packages without prompting; on failure refresh the package lists once and try again."""
    prefix = apt_prefix()
    if prefix is None:
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # --no-upgrade: installs what is missing, leaves an installed package (and its version) alone
    install = [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "--no-upgrade", *packages]
    say(f"installing {' '.join(packages)}: {' '.join(install)}")
    if subprocess.run(install, env=env, stdin=subprocess.DEVNULL).returncode == 0:
        return True
    say("apt-get install failed; refreshing the package lists (apt-get update) and trying once more")
    subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, stdin=subprocess.DEVNULL)
    return subprocess.run(install, env=env, stdin=subprocess.DEVNULL).returncode == 0


def ensure_venv(folder: Path, python: str = sys.executable, version: tuple[int, int] = sys.version_info[:2]) -> bool:
    """Create the virtual environment; Debian's Python needs python3.X-venv (ensurepip) for that."""
    if version < (3, 11):
        tell_command(
            f"Python 3.11 or later is needed, and {python} is {version[0]}.{version[1]}.",
            "sudo apt-get install python3.11-venv && make run PYTHON=python3.11",
            advice="install a newer Python and tell make to use it (make test PYTHON=... likewise):",
        )
        return False
    command = [python, "-m", "venv", str(folder)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode == 0:
        return True
    shutil.rmtree(folder, ignore_errors=True)  # Debian leaves a venv without pip behind, which make would reuse
    output = result.stdout + result.stderr
    if "ensurepip" not in output:
        print(output, file=sys.stderr)
        say(f"`{' '.join(command)}` failed")
        return False
    package = f"python{version[0]}.{version[1]}-venv"
    say(f"{python} cannot create a virtual environment without the Debian package {package}")
    if apt_install([package]) and subprocess.run(command).returncode == 0:
        return True
    shutil.rmtree(folder, ignore_errors=True)
    tell_command(
        f"{python} cannot create a virtual environment: ensurepip is missing.", f"sudo apt-get install {package}"
    )
    return False


def ensure_data() -> bool:
    """Fashion-MNIST where models.inputs.fashion_mnist finds it: a local copy, else apt's package, else Keras's
    downloader."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from models.inputs import fashion_mnist as data

    folder = data.find_local_copy()
    if folder is not None:
        say(f"Fashion-MNIST: {folder}")
        return True
    places = dict.fromkeys([*data.candidate_dirs(), data.keras_download_dir()])  # in search order, once each
    say(f"Fashion-MNIST is in none of {', '.join(map(str, places))}")
    if apt_install([DATA_PACKAGE]):
        folder = data.find_local_copy()
        if folder is not None:
            say(f"Fashion-MNIST: {folder} (installed {DATA_PACKAGE})")
            return True
        say(f"apt-get reports {DATA_PACKAGE} installed, yet its files are not in {data.DEBIAN_DIR}")
    say("downloading Fashion-MNIST (30 MB) with Keras's downloader")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        data.load_fashion_mnist()  # no local copy, so this is the loader's Keras fallback (keras.utils.get_file)
    except data.DataError as exc:
        reason = exc.__cause__ or exc
        tell_command(
            f"Fashion-MNIST is missing, apt-get could not install it and the download failed ({reason}).",
            f"sudo apt-get update && sudo apt-get install {DATA_PACKAGE}",
            "(or connect to the internet once, or set FASHION_MNIST_DIR to a folder holding the four "
            "Fashion-MNIST .gz files)",
        )
        return False
    say(f"Fashion-MNIST: {data.find_local_copy() or 'downloaded into Keras cache'} (downloaded)")
    return True


def ensure_browser() -> bool:
    """Chromium and its fonts for the browser tests; without them those tests skip (locally) or fail (CI)."""
    missing = [package for package, path in BROWSER_FILES.items() if not path.exists()]
    if not missing:
        say(f"Chromium: {BROWSER_FILES['chromium']}")
        return True
    say(f"the browser tests need {' and '.join(missing)}")
    if apt_install(missing) and all(path.exists() for path in BROWSER_FILES.values()):
        say(f"Chromium: {BROWSER_FILES['chromium']} (installed {' '.join(missing)})")
        return True
    if "chromium" not in missing:
        consequence = "draw text in other fonts"
    else:
        consequence = "fail, since CI is set" if os.environ.get("CI") else "are skipped"
    tell_command(
        f"{' and '.join(missing)} not installed, so the browser tests {consequence}.",
        f"sudo apt-get install {' '.join(missing)}",
    )
    return True  # tests/support/browser.py decides: skip locally, fail in CI


def ensure_nginx() -> bool:
    """nginx for the production stack; without it `make serve` stops and the stack tests skip (locally) or fail (CI)."""
    if NGINX_FILE.exists():
        say(f"nginx: {NGINX_FILE}")
        return True
    say(f"the production stack (make serve) and its tests need {NGINX_PACKAGE}")
    if apt_install([NGINX_PACKAGE]) and NGINX_FILE.exists():
        say(f"nginx: {NGINX_FILE} (installed {NGINX_PACKAGE})")
        return True
    consequence = "fail, since CI is set" if os.environ.get("CI") else "are skipped"
    tell_command(
        f"{NGINX_PACKAGE} is not installed, so `make serve` cannot start and the stack tests {consequence}.",
        f"sudo apt-get install {NGINX_PACKAGE}",
    )
    return True  # scripts/serve.py and tests/stack/test_stack.py decide


def postgresql_bin() -> Path | None:
    """The folder of the newest installed PostgreSQL's initdb and pg_ctl (Debian's layout), or None."""
    found = sorted(POSTGRESQL_BIN.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


def ensure_postgresql() -> bool:
    """PostgreSQL for the class store's tests; without it they skip (locally) or fail (CI)."""
    if postgresql_bin() is not None:
        say(f"PostgreSQL: {postgresql_bin()}")
        return True
    say(f"the class store's PostgreSQL tests need {POSTGRESQL_PACKAGE}")
    if apt_install([POSTGRESQL_PACKAGE]) and postgresql_bin() is not None:
        say(f"PostgreSQL: {postgresql_bin()} (installed {POSTGRESQL_PACKAGE})")
        return True
    consequence = "fail, since CI is set" if os.environ.get("CI") else "are skipped"
    tell_command(
        f"{POSTGRESQL_PACKAGE} is not installed, so the class store's PostgreSQL tests {consequence}.",
        f"sudo apt-get install {POSTGRESQL_PACKAGE}",
    )
    return True  # tests/stack/test_classroom.py decides


def ensure_axe() -> bool:
    """axe-core for the accessibility browser test, by npm (Debian's npm if missing); else that test skips or fails."""
    if AXE_SCRIPT.exists():
        say(f"axe-core: {AXE_SCRIPT}")
        return True
    if shutil.which("npm") is None and not apt_install(["npm"]):
        consequence = "fails, since CI is set" if os.environ.get("CI") else "is skipped"
        tell_command(
            f"npm is not installed, so the accessibility browser test {consequence}.", "sudo apt-get install npm"
        )
        return True  # tests/browser.py decides
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    install = ["npm", "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund", f"axe-core@{AXE_VERSION}"]
    say(f"installing axe-core: {' '.join(install)}")
    if subprocess.run(install, stdin=subprocess.DEVNULL).returncode == 0 and AXE_SCRIPT.exists():
        return True
    tell_command("npm could not install axe-core.", " ".join(install))
    return False


def main(argv: list[str]) -> int:
    steps = {
        "data": ensure_data,
        "browser": ensure_browser,
        "nginx": ensure_nginx,
        "postgresql": ensure_postgresql,
        "axe": ensure_axe,
    }
    if argv[:1] == ["venv"] and len(argv) == 2:
        return 0 if ensure_venv(Path(argv[1])) else 1
    if not argv or any(step not in steps for step in argv):
        print(__doc__, file=sys.stderr)
        return 2
    results = [steps[step]() for step in argv]  # every step runs, so one message lists everything missing
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
