"""The Streamlit internals the lab relies on: each still exists and behaves as the code expects, and a Streamlit
release other than the one they were checked against fails with what to look at (README, "Bumping a version").

Streamlit's documented API is `import streamlit as st` (and `streamlit.testing`); anything else under `streamlit.`
may change in a minor release. Each module below names the release it was written against ("Streamlit 1.67.0");
after a bump, look at each item, then write the new version here and in those modules.
"""

import dataclasses
import inspect
import re
import socket
from importlib.metadata import version
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parents[2]
CHECKED_WITH = "1.67.0"  # the Streamlit release every guard below was last checked against
LOOK_AT = {  # module: the internal it relies on, and what to look at in a new release
    "components/framework/server_hooks.py": (
        "replaces streamlit.runtime.scriptrunner.script_runner._clean_problem_modules: "
        "does ScriptRunner still call it after every run, and does it still clean only Keras and matplotlib? "
        "(tests/app/test_server_hooks.py, benchmarks/RESULTS.md's rerun cost)"
    ),
    "components/framework/page.py": (
        "clears PagesManager.uses_pages_directory (runtime/pages_manager.py) so a first visit "
        "to a page URL runs app.py: is the flag still set from a pages/ folder and cleared by st.navigation? "
        "(tests/unit/test_page_guard.py, the browser test test_first_visit_straight_to_a_page_uses_the_app_navigation)"
    ),
    "components/framework/nodelay.py": (
        "sets TCP_NODELAY because Streamlit binds its listening socket with protocol number "
        "0 (web/server/starlette/starlette_server.py, _bind_socket): still so? (tests/unit/test_nodelay.py)"
    ),
    "components/framework/links.py": "get_script_run_ctx().page_script_hash (runtime/scriptrunner)",
    "components/framework/learner.py": "get_script_run_ctx().session_id (runtime/scriptrunner)",
    "components/presentation.py": "streamlit.delta_generator.DeltaGenerator, the type of st.columns' columns",
    "components/sections/filters_step.py": "streamlit.delta_generator.DeltaGenerator, the type of a container",
    "components/sections/architecture.py": "streamlit.delta_generator.DeltaGenerator, the type of a placeholder",
    "benchmarks/ws_client.py": "Streamlit's websocket protocol (streamlit.proto, the frontend's messages): "
    "tests/stack/test_ws_client.py, benchmarks/ws_vs_browser.py",
    "benchmarks/ws_vs_browser.py": "streamlit.proto's BackMsg and ForwardMsg",
    "benchmarks/page_visits.py": "AppSession.handle_backmsg and StarletteSessionClient.write_forward_msg, timed",
    "benchmarks/profile_reruns.py": "ScriptRunner._run_script, profiled",
}
PRIVATE_IMPORT = re.compile(r"^\s*(?:from|import) (streamlit\.(?!testing\b)[\w.]+)", re.MULTILINE)


def _checked(what: str) -> str:
    """A failure message: what changed, against which release, and where to look."""
    return (
        f"Streamlit {version('streamlit')} is installed; {what} was written against Streamlit {CHECKED_WITH}. "
        f"Look at: {LOOK_AT.get(what, what)}"
    )


def test_the_installed_streamlit_is_the_release_the_guards_were_checked_against():
    look = "\n".join(f"- {module}: {internal}" for module, internal in LOOK_AT.items())
    assert version("streamlit") == CHECKED_WITH, (
        f"Streamlit {version('streamlit')} is installed; the lab's uses of Streamlit internals were checked against "
        f"Streamlit {CHECKED_WITH}. Look at each of these in the new release's source, run the tests named, look at "
        f"the pages, then write the new version in CHECKED_WITH ({__name__}) and in each module:\n{look}"
    )


def test_every_private_streamlit_import_is_listed_and_names_the_release():
    files = [ROOT / "app.py", *ROOT.glob("pages/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*.py")]
    files += [*ROOT.glob("components/**/*.py"), *ROOT.glob("models/**/*.py")]
    importing = {path.relative_to(ROOT).as_posix() for path in files if PRIVATE_IMPORT.search(path.read_text())}
    assert importing - LOOK_AT.keys() == set(), "a new use of a Streamlit internal: add it to LOOK_AT with a guard"
    for module in LOOK_AT:
        assert f"Streamlit {CHECKED_WITH}" in (ROOT / module).read_text(), f"{module} does not name the release"


def test_the_keras_hook_is_still_called_after_each_run_and_cleans_only_keras_and_matplotlib():
    from streamlit.runtime.scriptrunner import script_runner

    from components.framework import server_hooks

    what = "components/framework/server_hooks.py"
    assert "_log_if_error(_clean_problem_modules)" in inspect.getsource(script_runner.ScriptRunner), _checked(what)
    cleaned = re.findall(r"\"([\w.]+)\" in sys\.modules", inspect.getsource(server_hooks.STREAMLIT_HOOK))
    assert cleaned == ["keras", "matplotlib.pyplot"], _checked(what)  # anything more, and the replacement skips it


def test_streamlit_still_binds_a_listening_socket_that_asyncio_leaves_with_nagle_on():
    from streamlit.web.server.starlette import starlette_server

    what = "components/framework/nodelay.py"
    bind = getattr(starlette_server, "_bind_socket", None)
    assert bind is not None, _checked(what)
    with bind("127.0.0.1", 0, 1) as listener:
        assert listener.proto == 0, _checked(what)
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0, _checked(what)


def test_the_script_run_context_still_has_the_fields_the_lab_reads():
    from streamlit.runtime.scriptrunner import ScriptRunContext, get_script_run_ctx

    names = {field.name for field in dataclasses.fields(ScriptRunContext)} | set(vars(ScriptRunContext))  # properties
    assert {"main_script_path", "page_script_hash", "session_id"} <= names, _checked("components/framework/learner.py")
    assert get_script_run_ctx(suppress_warning=True) is None, _checked("components/framework/links.py")  # outside a run


def test_containers_are_still_delta_generators():
    from streamlit.delta_generator import DeltaGenerator

    assert isinstance(st.sidebar, DeltaGenerator), _checked("components/presentation.py")


def test_the_benchmarks_streamlit_internals_still_exist():
    from streamlit.proto import BackMsg_pb2, Common_pb2, ForwardMsg_pb2, NumberInput_pb2, Slider_pb2, WidgetStates_pb2
    from streamlit.runtime import app_session
    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.web import cli
    from streamlit.web.server.starlette import starlette_websocket

    assert all([BackMsg_pb2.BackMsg, ForwardMsg_pb2.ForwardMsg, NumberInput_pb2.NumberInput, Slider_pb2.Slider])
    assert all([Common_pb2.FileUploaderState, Common_pb2.FileURLs, Common_pb2.UploadedFileInfo])
    assert WidgetStates_pb2.WidgetState, _checked("benchmarks/ws_client.py")
    assert callable(app_session.AppSession.handle_backmsg), _checked("benchmarks/page_visits.py")
    assert callable(starlette_websocket.StarletteSessionClient.write_forward_msg), _checked("benchmarks/page_visits.py")
    assert callable(script_runner.ScriptRunner._run_script), _checked("benchmarks/profile_reruns.py")
    assert callable(cli.main), _checked("benchmarks/profile_reruns.py")
