"""scripts/ensure_system.py: what `make run` / `make test` do when the machine lacks something.

apt-get and sudo are stand-in shell scripts on a PATH holding nothing else (they log their arguments), the search
places are empty temporary folders, and downloads go to the discard port: no network, nothing installed.
"""

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

from models.inputs import fashion_mnist as data

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ensure_system.py"
REFUSED = "http://127.0.0.1:9/"  # nothing listens on the discard port: a download fails at once
NO_NETWORK = {
    "https_proxy": REFUSED,
    "http_proxy": REFUSED,
    "HTTPS_PROXY": REFUSED,
    "HTTP_PROXY": REFUSED,
    "no_proxy": "",
    "NO_PROXY": "",
}
APT_INSTALL = "apt-get install -y -qq --no-install-recommends --no-upgrade"

_spec = importlib.util.spec_from_file_location("ensure_system", SCRIPT)
ensure_system = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ensure_system)


@pytest.fixture(scope="module")
def real_dir():
    """The folder holding the real Fashion-MNIST files (the Debian package here)."""
    return data.find_data_dir()


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """A PATH with only the stand-ins written by `tools.add`; `tools.calls()` lists their logged command lines."""

    class Tools:
        bin = tmp_path / "bin"
        log = tmp_path / "calls.log"

        def add(self, name: str, body: str = "") -> None:
            path = self.bin / name
            path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{self.log}"\n{body}\n')
            path.chmod(0o755)

        def calls(self) -> list[str]:
            return self.log.read_text().splitlines() if self.log.exists() else []

    Tools.bin.mkdir()
    monkeypatch.setenv("PATH", str(Tools.bin))
    return Tools()


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """Every search place empty, the Keras download refused; returns the Debian folder (absent until installed)."""
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "empty"))
    (tmp_path / "keras").mkdir()  # importing Keras creates its home folder; get_file writes to /tmp/.keras without
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for name, value in NO_NETWORK.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(data, "KERAS_ORIGIN", REFUSED)
    import keras.utils

    # Keras fixes its home folder when first imported in this process: send its downloads to this KERAS_HOME.
    real_get_file = keras.utils.get_file
    monkeypatch.setattr(
        keras.utils, "get_file", lambda *args, **kw: real_get_file(*args, cache_dir=str(tmp_path / "keras"), **kw)
    )
    assert data.find_local_copy() is None
    return tmp_path / "debian"


def as_user(monkeypatch, uid: int) -> None:
    monkeypatch.setattr(ensure_system.os, "geteuid", lambda: uid)


def copy_files(source: Path, target: Path) -> str:
    """Shell lines an apt-get stand-in runs to 'install' the data set into target."""
    return f'/bin/mkdir -p "{target}" && /bin/cp "{source}"/*.gz "{target}"'


# --- data: the two paths `make run` meets on a real machine, as separate processes ---------------------------


def test_data_present_is_a_quick_no_op(real_dir, tools, tmp_path):
    tools.add("apt-get")
    tools.add("sudo")
    env = {"PATH": str(tools.bin), "HOME": str(tmp_path), "FASHION_MNIST_DIR": str(real_dir), **NO_NETWORK}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(SCRIPT), "data"], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"setup: Fashion-MNIST: {real_dir}\n"
    assert tools.calls() == []
    assert elapsed < 2.0  # about 0.1 s on an idle machine (Python and NumPy starting); up to 1 s on a busy one


def test_missing_everywhere_without_apt_or_internet_stops_with_the_command(tools, tmp_path):
    """A fresh process: models.inputs.fashion_mnist's Debian folder empty, no apt-get or sudo on PATH, the download
    refused."""
    (tmp_path / "home").mkdir()
    env = {
        "PATH": str(tools.bin),
        "HOME": str(tmp_path / "home"),
        "FASHION_MNIST_DIR": str(tmp_path / "empty"),
        "KERAS_HOME": str(tmp_path / "keras"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        **NO_NETWORK,
    }
    run_script = (
        "import runpy, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from models.inputs import fashion_mnist as data; data.DEBIAN_DIR = Path(sys.argv[2]); "
        "sys.argv = [sys.argv[3], 'data']; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", run_script, str(ROOT), str(tmp_path / "debian"), str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "apt-get is not available here" in result.stdout
    assert "downloading Fashion-MNIST" in result.stdout
    assert "the download failed" in result.stderr and "Connection refused" in result.stderr
    assert "    sudo apt-get update && sudo apt-get install dataset-fashion-mnist\n" in result.stderr
    assert not list((tmp_path / "keras").rglob("*.gz"))


# --- data: the decision, in this process ---------------------------------------------------------------------


def test_as_root_apt_installs_the_package_refreshing_the_lists_of_a_fresh_machine(
    no_data, real_dir, tools, monkeypatch, capsys
):
    as_user(monkeypatch, 0)
    updated = tools.bin / "updated"
    tools.add(
        "apt-get",
        f'case "$1" in update) : > "{updated}";; '
        f'install) [ -e "{updated}" ] || exit 100; {copy_files(real_dir, no_data)};; esac',
    )
    assert ensure_system.ensure_data()
    install = f"{APT_INSTALL} dataset-fashion-mnist"
    assert tools.calls() == [install, "apt-get update -qq", install]
    assert f"Fashion-MNIST: {no_data} (installed dataset-fashion-mnist)" in capsys.readouterr().out


def test_not_root_uses_sudo_when_it_needs_no_password(no_data, real_dir, tools, monkeypatch):
    as_user(monkeypatch, 1000)
    tools.add("sudo", '[ "$1" = -n ] || exit 1; shift; [ "$1" = true ] && exit 0; exec /usr/bin/env "$@"')
    tools.add("apt-get", copy_files(real_dir, no_data))
    assert ensure_system.ensure_data()
    assert tools.calls() == [
        "sudo -n true",
        f"sudo -n DEBIAN_FRONTEND=noninteractive {APT_INSTALL} dataset-fashion-mnist",
        f"{APT_INSTALL} dataset-fashion-mnist",
    ]
    assert data.find_local_copy() == no_data


def test_sudo_asking_for_a_password_falls_back_to_the_loaders_keras_download(
    no_data, real_dir, tools, tmp_path, monkeypatch, capsys
):
    """The download is models.inputs.fashion_mnist's own fallback; where Keras saves it then counts as present."""
    as_user(monkeypatch, 1000)
    tools.add("sudo", 'echo "sudo: a password is required" >&2; exit 1')
    tools.add("apt-get")
    monkeypatch.setattr(data, "KERAS_ORIGIN", real_dir.as_uri() + "/")
    assert ensure_system.ensure_data()
    assert tools.calls() == ["sudo -n true"]
    cache = tmp_path / "keras" / "datasets" / "fashion-mnist"
    assert sorted(path.name for path in cache.iterdir()) == sorted(data.FILES.values())
    assert f"Fashion-MNIST: {cache} (downloaded)\n" in capsys.readouterr().out
    import keras.utils

    monkeypatch.setattr(keras.utils, "get_file", None)  # the next run does not download again
    assert ensure_system.ensure_data()
    assert capsys.readouterr().out == f"setup: Fashion-MNIST: {cache}\n"


def test_failed_apt_install_and_failed_download_exit_1_after_every_step(no_data, tools, monkeypatch, capsys):
    as_user(monkeypatch, 0)
    tools.add("apt-get", "exit 100")
    monkeypatch.setattr(ensure_system, "BROWSER_FILES", {"chromium": no_data / "chromium"})
    assert ensure_system.main(["data", "browser"]) == 1
    assert tools.calls() == [
        f"{APT_INSTALL} dataset-fashion-mnist",
        "apt-get update -qq",
        f"{APT_INSTALL} dataset-fashion-mnist",
        f"{APT_INSTALL} chromium",
        "apt-get update -qq",
        f"{APT_INSTALL} chromium",
    ]
    err = capsys.readouterr().err
    assert "sudo apt-get install dataset-fashion-mnist" in err and "sudo apt-get install chromium" in err


def test_unknown_step_prints_usage():
    assert ensure_system.main(["everything"]) == 2


# --- browser ---------------------------------------------------------------------------------------------------


@pytest.fixture
def browser_files(tmp_path, monkeypatch):
    files = {"chromium": tmp_path / "usr-bin-chromium", "fonts-dejavu-core": tmp_path / "DejaVuSans.ttf"}
    monkeypatch.setattr(ensure_system, "BROWSER_FILES", files)
    return files


def test_browser_present_does_nothing(browser_files, tools, capsys):
    tools.add("apt-get")
    for path in browser_files.values():
        path.touch()
    assert ensure_system.ensure_browser()
    assert tools.calls() == []
    assert capsys.readouterr().out == f"setup: Chromium: {browser_files['chromium']}\n"


def test_missing_chromium_is_installed_with_its_fonts(browser_files, tools, monkeypatch):
    as_user(monkeypatch, 0)
    chromium, fonts = browser_files.values()
    tools.add("apt-get", f': > "{chromium}"; : > "{fonts}"')
    assert ensure_system.ensure_browser()
    assert tools.calls() == [f"{APT_INSTALL} chromium fonts-dejavu-core"]


def test_only_missing_fonts_are_installed(browser_files, tools, monkeypatch):
    as_user(monkeypatch, 0)
    browser_files["chromium"].touch()
    tools.add("apt-get", f': > "{browser_files["fonts-dejavu-core"]}"')
    assert ensure_system.ensure_browser()
    assert tools.calls() == [f"{APT_INSTALL} fonts-dejavu-core"]


def test_without_apt_missing_fonts_name_only_the_fonts(browser_files, tools, capsys):
    browser_files["chromium"].touch()
    assert ensure_system.ensure_browser()
    err = capsys.readouterr().err
    assert "fonts-dejavu-core not installed, so the browser tests draw text in other fonts" in err
    assert "    sudo apt-get install fonts-dejavu-core\n" in err


@pytest.mark.parametrize(("ci", "outcome"), [(None, "are skipped"), ("true", "fail, since CI is set")])
def test_without_apt_chromium_is_a_warning_naming_the_command(browser_files, tools, monkeypatch, capsys, ci, outcome):
    """Not fatal: tests/support/browser.py skips the browser tests locally and fails them in CI."""
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert ensure_system.main(["browser"]) == 0
    err = capsys.readouterr().err
    assert f"the browser tests {outcome}" in err
    assert "    sudo apt-get install chromium fonts-dejavu-core\n" in err


# --- nginx ------------------------------------------------------------------------------------------------------


def test_nginx_present_does_nothing(tools, tmp_path, monkeypatch, capsys):
    tools.add("apt-get")
    nginx = tmp_path / "nginx"
    nginx.touch()
    monkeypatch.setattr(ensure_system, "NGINX_FILE", nginx)
    assert ensure_system.ensure_nginx()
    assert tools.calls() == []
    assert capsys.readouterr().out == f"setup: nginx: {nginx}\n"


def test_missing_nginx_is_installed(tools, tmp_path, monkeypatch):
    as_user(monkeypatch, 0)
    nginx = tmp_path / "nginx"
    monkeypatch.setattr(ensure_system, "NGINX_FILE", nginx)
    tools.add("apt-get", f': > "{nginx}"')
    assert ensure_system.ensure_nginx()
    assert tools.calls() == [f"{APT_INSTALL} nginx"]


@pytest.mark.parametrize(("ci", "outcome"), [(None, "are skipped"), ("true", "fail, since CI is set")])
def test_without_apt_nginx_is_a_warning_naming_the_command(tools, tmp_path, monkeypatch, capsys, ci, outcome):
    """Not fatal here: scripts/serve.py stops with the command, tests/stack/test_stack.py skips locally, fails in CI."""
    monkeypatch.setattr(ensure_system, "NGINX_FILE", tmp_path / "nginx")
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert ensure_system.main(["nginx"]) == 0
    err = capsys.readouterr().err
    assert f"`make serve` cannot start and the stack tests {outcome}" in err
    assert "    sudo apt-get install nginx\n" in err


# --- PostgreSQL (the class store's tests) ---------------------------------------------------------------------------


def test_postgresql_present_does_nothing(tools, tmp_path, monkeypatch, capsys):
    tools.add("apt-get")
    (tmp_path / "15" / "bin").mkdir(parents=True)
    (tmp_path / "15" / "bin" / "initdb").touch()
    monkeypatch.setattr(ensure_system, "POSTGRESQL_BIN", tmp_path)
    assert ensure_system.ensure_postgresql()
    assert tools.calls() == []
    assert capsys.readouterr().out == f"setup: PostgreSQL: {tmp_path / '15' / 'bin'}\n"


def test_missing_postgresql_is_installed(tools, tmp_path, monkeypatch):
    as_user(monkeypatch, 0)
    monkeypatch.setattr(ensure_system, "POSTGRESQL_BIN", tmp_path)
    (tmp_path / "15" / "bin").mkdir(parents=True)  # the package's files: apt-get adds initdb
    tools.add("apt-get", f': > "{tmp_path}/15/bin/initdb"')
    assert ensure_system.ensure_postgresql()
    assert tools.calls() == [f"{APT_INSTALL} postgresql"]


@pytest.mark.parametrize(("ci", "outcome"), [(None, "are skipped"), ("true", "fail, since CI is set")])
def test_without_apt_postgresql_is_a_warning_naming_the_command(tools, tmp_path, monkeypatch, capsys, ci, outcome):
    """Not fatal here: tests/stack/test_classroom.py skips its PostgreSQL cases locally and fails them in CI."""
    monkeypatch.setattr(ensure_system, "POSTGRESQL_BIN", tmp_path)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert ensure_system.main(["postgresql"]) == 0
    err = capsys.readouterr().err
    assert f"the class store's PostgreSQL tests {outcome}" in err
    assert "    sudo apt-get install postgresql\n" in err


# --- the virtual environment -------------------------------------------------------------------------------------

DEBIAN_VENV_ERROR = (
    "The virtual environment was not created successfully because ensurepip is not\n"
    "available.  On Debian/Ubuntu systems, you need to install the python3-venv\n"
    "package using the following command.\n\n    apt install python3.11-venv\n"
)


@pytest.fixture
def debian_python(tools, tmp_path):
    """A `python3 -m venv DIR` stand-in that fails as Debian's does until python3.11-venv is 'installed'."""
    installed = tmp_path / "python3.11-venv-installed"
    tools.add(
        "python3",
        f'/bin/mkdir -p "$3/bin"; : > "$3/bin/python"; [ -e "{installed}" ] && exit 0\n'
        f"/bin/cat <<'EOF'\n{DEBIAN_VENV_ERROR}EOF\nexit 1",
    )
    return tools.bin / "python3", installed


def test_missing_python3_venv_is_installed_then_the_venv_made(debian_python, tools, tmp_path, monkeypatch):
    as_user(monkeypatch, 0)
    python, installed = debian_python
    tools.add("apt-get", f': > "{installed}"')
    assert ensure_system.ensure_venv(tmp_path / "venv", python=str(python), version=(3, 11))
    assert tools.calls() == [
        f"python3 -m venv {tmp_path / 'venv'}",
        f"{APT_INSTALL} python3.11-venv",
        f"python3 -m venv {tmp_path / 'venv'}",
    ]


def test_without_apt_missing_python3_venv_names_the_package_and_leaves_no_half_venv(debian_python, tmp_path, capsys):
    python, _ = debian_python
    assert not ensure_system.ensure_venv(tmp_path / "venv", python=str(python), version=(3, 11))
    assert "    sudo apt-get install python3.11-venv\n" in capsys.readouterr().err
    assert not (tmp_path / "venv").exists()  # else make would take .venv/bin/python as done


def test_other_venv_failures_are_shown_as_they_are(tools, tmp_path, capsys):
    tools.add("apt-get")
    tools.add("python3", 'echo "Error: [Errno 13] Permission denied" >&2; exit 1')
    assert not ensure_system.ensure_venv(tmp_path / "venv", python=str(tools.bin / "python3"), version=(3, 12))
    assert "Permission denied" in capsys.readouterr().err
    assert tools.calls() == [f"python3 -m venv {tmp_path / 'venv'}"]


def test_too_old_python_is_refused_with_the_make_command(tools, tmp_path, capsys):
    tools.add("python3")
    assert not ensure_system.ensure_venv(tmp_path / "venv", python="python3", version=(3, 10))
    assert "make run PYTHON=python3.11" in capsys.readouterr().err
    assert tools.calls() == []


# --- the Makefile ---------------------------------------------------------------------------------------------


def test_make_run_and_test_check_the_system_before_starting(monkeypatch):
    """Dry runs: the setup step comes right before streamlit, and before the checks and pytest."""
    for name in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS"):  # under `make test` this would be a sub-make
        monkeypatch.delenv(name, raising=False)
    for target, step, then in (
        ("run", "data", ["-m streamlit run app.py"]),
        ("serve", "data nginx", ["scripts/serve.py"]),
        (
            "test",
            "data browser nginx postgresql axe",
            ["ruff check .", "ruff format --check .", "mypy", "vulture", "lint-imports", "-m pytest"],
        ),
    ):
        lines = subprocess.run(
            ["make", "--no-print-directory", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.splitlines()
        commands = [line.split("  #")[0].strip() for line in lines[-1 - len(then) :]]
        expected = [f".venv/bin/python scripts/ensure_system.py {step}"]
        expected += [
            f".venv/bin/python {command}" if command.startswith(("-m ", "scripts/")) else f".venv/bin/{command}"
            for command in then
        ]
        assert commands == expected


def test_make_without_python_says_what_to_install(tmp_path):
    result = subprocess.run(
        ["make", f"VENV={tmp_path / 'venv'}", "PYTHON=no-such-python3", f"{tmp_path / 'venv'}/bin/python"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "no-such-python3 not found; run: sudo apt-get install python3 python3-venv" in result.stderr
    assert not (tmp_path / "venv").exists()


# --- axe-core: npm into a cache folder, once ---------------------------------------------------------------


@pytest.fixture
def axe_dir(tmp_path, monkeypatch):
    """ensure_axe's cache folder in tmp_path; returns where axe.min.js belongs."""
    folder = tmp_path / "axe"
    monkeypatch.setattr(ensure_system, "AXE_DIR", folder)
    monkeypatch.setattr(ensure_system, "AXE_SCRIPT", folder / "node_modules" / "axe-core" / "axe.min.js")
    return ensure_system.AXE_SCRIPT


def test_axe_present_runs_no_npm(axe_dir, tools):
    axe_dir.parent.mkdir(parents=True)
    axe_dir.write_text("axe")
    tools.add("npm")
    assert ensure_system.ensure_axe()
    assert tools.calls() == []


def test_missing_axe_is_installed_by_npm_at_the_pinned_version(axe_dir, tools):
    tools.add("npm", f'/bin/mkdir -p "{axe_dir.parent}" && echo axe > "{axe_dir}"')
    assert ensure_system.ensure_axe()
    assert tools.calls() == [
        f"npm install --prefix {axe_dir.parents[2]} --no-audit --no-fund axe-core@{ensure_system.AXE_VERSION}"
    ]


def test_without_npm_or_apt_axe_names_the_command(axe_dir, tools, monkeypatch, capsys):
    monkeypatch.delenv("CI", raising=False)
    assert ensure_system.ensure_axe()  # tests/browser.py's axe_script() then skips the accessibility test
    assert "sudo apt-get install npm" in capsys.readouterr().err
