"""A browser-free Streamlit client: one learner's session over Streamlit's own websocket protocol.

It speaks to ``ws://host:port/_stcore/stream`` as the Streamlit 1.67.0 frontend does (read from
``streamlit/web/server/starlette/starlette_websocket.py``, ``streamlit/runtime/app_session.py``,
``streamlit/proto`` and the frontend bundle in ``streamlit/static``), so what it measures is what one click
costs the server:

- **Connecting**: ``GET`` of the page's URL and ``GET /_stcore/health`` (it sets the ``_streamlit_xsrf`` cookie),
  then the websocket with the subprotocol list ``["streamlit", <xsrf token>]`` (the server selects the first
  entry; the second is the XSRF token, a third would be a session id to resume). Each session keeps its own
  cookies, as a browser does, and sends them with every request and the websocket's ``Cookie`` header: behind a
  proxy with sticky sessions (a route cookie set on the first response) a learner stays on one replica. The
  server runs nothing until the client sends its first ``rerun_script``, which names the page by its URL path
  (``page_name``) and carries the query string.
- **A rerun** is ``BackMsg(rerun_script=ClientState(...))`` with **every** widget's current value, as the
  browser's WidgetStateManager sends them: a widget's value is committed when it first appears (the proto's
  ``default``, or its ``value``/``raw_value`` when the server set it through session state) and kept across
  runs while its id is on the page. A button is ``WidgetState(id, trigger_value=True)`` for that one rerun. A
  widget drawn inside an ``st.fragment`` (its delta carries ``fragment_id``) is sent as a fragment rerun
  (``ClientState.fragment_id``), as the browser does. Changing page after the first visit sends the page's
  ``page_script_hash`` (from the ``navigation`` message) with only the main script's widgets, and no query
  string, like a click in the sidebar.
- **The run** ends with ``script_finished`` (``FINISHED_EARLY_FOR_RERUN`` is not the end: ``st.rerun`` and
  ``st.switch_page`` start another run). Elements are kept in a tree keyed by delta path; at the end of a run
  the nodes it did not write are dropped (for a fragment run, only inside its fragments), which is the
  frontend's ``clearStaleNodes``; widgets no longer on the page leave the widget state (``removeInactive``).
- **Message cache**: messages the server marks ``metadata.cacheable`` (``new_element`` deltas of 10 kB or
  more) are kept by hash, and every rerun lists their hashes in ``ClientState.cached_message_hashes``; the
  server then sends a ``ref_hash`` ForwardMsg instead of the element, which the client resolves from its own
  cache. Streamlit 1.67 has no ``/_stcore/message?hash=`` endpoint any more: there is nothing to fetch over
  HTTP. Entries age as in the frontend (``max_cached_message_age`` runs, from ``new_session.config``).
- **Uploads** (``st.file_uploader``): ``BackMsg(file_urls_request)`` -> ``ForwardMsg(file_urls_response)``
  with ``/_stcore/upload_file/<session_id>/<file_id>``; a multipart ``PUT`` there with the ``X-Xsrftoken``
  header and cookie; then a rerun with ``FileUploaderState(uploaded_file_info=[UploadedFileInfo(...)])``.
- **Query strings** the script writes (``page_info_changed``) are sent back with later reruns, like the
  address bar; ``auto_rerun`` (``st.fragment(run_every=...)``) is recorded and can be polled with
  :meth:`Session.auto_rerun`.

Each run is summarised in a :class:`RunResult`: seconds from sending to ``script_finished``, websocket bytes
received, deltas (and how many came as ``ref_hash`` references), bytes by element type, exception elements,
the text shown (markdown, headings, captions, code, metrics, alerts) and the widgets on the page afterwards.

Usage as a script: ``python benchmarks/ws_client.py [--url http://127.0.0.1:8501] [url_path ...]`` prints one
visit per page (it serves the app itself without ``--url``).
"""

from __future__ import annotations

import argparse
import asyncio
import http.cookiejar
import json
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileUploaderState, FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.NumberInput_pb2 import NumberInput
from streamlit.proto.Slider_pb2 import Slider
from streamlit.proto.WidgetStates_pb2 import WidgetState

EARLY = ForwardMsg.FINISHED_EARLY_FOR_RERUN
FINISHED = {
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
}
XSRF_COOKIE = "_streamlit_xsrf"
# Element types whose value the browser keeps in its widget state (value field in WidgetState).
TRIGGERS = {"button"}  # trigger_value, only in the rerun that clicks them
TEXT_FIELDS = {
    "markdown": "body",
    "heading": "body",
    "text": "body",
    "alert": "body",
    "code": "code_text",
    "metric": "body",
    "progress": "text",
}


class ClientError(RuntimeError):
    """The server refused something (page not found, upload failed) or did not answer in time."""


@dataclass
class Widget:
    """One widget on the page, with the value this client holds for it (what the browser would send)."""

    id: str
    kind: str  # the Element (or Block) field: "selectbox", "slider", "tab_container", ...
    label: str
    fragment_id: str  # the st.fragment it is drawn in ("" outside fragments)
    field: str | None  # the WidgetState oneof field carrying its value; None for buttons
    options: tuple[str, ...] = ()
    value: Any = None
    disabled: bool = False
    script_hash: str = ""  # the script that drew it: the main script (app.py) or the page

    @property
    def key(self) -> str | None:
        """The user key the id ends with (``$$ID-<hash>-<key>``), None without one."""
        parts = self.id.split("-", 2)
        return parts[2] if len(parts) == 3 and parts[0] == "$$ID" and parts[2] != "None" else None

    def state(self, value: Any = None) -> WidgetState | None:
        """This widget's WidgetState with `value` (default: its current value); None when it has no value."""
        value = self.value if value is None else value
        state = WidgetState(id=self.id)
        if self.field is None or value is None:
            return None
        if self.field == "file_uploader_state_value":
            state.file_uploader_state_value.SetInParent()  # an empty state is still sent, as the browser does
            state.file_uploader_state_value.CopyFrom(value)
        elif self.field in ("double_array_value", "string_array_value", "int_array_value"):
            getattr(state, self.field).data.extend(value)
        elif self.field == "int_value":
            state.int_value = int(value)
        elif self.field == "double_value":
            state.double_value = float(value)
        elif self.field == "bool_value":
            state.bool_value = bool(value)
        else:
            setattr(state, self.field, value)
        return state


@dataclass
class Node:
    """A node of the element tree: an Element or a Block proto, and the run and fragment that wrote it."""

    kind: str
    proto: Any
    is_block: bool
    run_id: str
    fragment_id: str
    script_hash: str  # metadata.active_script_hash: the main script (app.py) or the page


@dataclass
class RunResult:
    """What one rerun cost and showed."""

    seconds: float = 0.0
    started_at: float = 0.0  # time.time() when the rerun was sent (to match server-side records)
    bytes: int = 0  # websocket payload bytes received during the run
    messages: int = 0
    deltas: int = 0
    cached_refs: int = 0  # deltas the server sent as ref_hash (this client already had them)
    runs: int = 0  # script runs in the chain (st.rerun / st.switch_page add one each)
    status: str = ""
    fragment_id: str = ""
    page: str = ""  # url path of the page the run ended on
    exceptions: list[str] = field(default_factory=list)
    traces: list[list[str]] = field(default_factory=list)  # the stack trace of each exception element
    texts: list[str] = field(default_factory=list)  # text written by this run (not what other runs left)
    bytes_by_type: Counter = field(default_factory=Counter)
    widgets: list[Widget] = field(default_factory=list)  # the page's widgets after the run
    media_urls: list[str] = field(default_factory=list)
    media_bytes: int = 0
    upload_seconds: float = 0.0

    def text(self) -> str:
        return "\n".join(self.texts)

    def summary(self) -> str:
        problems = f", EXCEPTIONS: {self.exceptions}" if self.exceptions else ""
        where = f" fragment {self.fragment_id[:8]}" if self.fragment_id else ""
        return (
            f"{self.page or 'home'}{where}: {self.seconds * 1000:.0f} ms, {self.bytes / 1024:.1f} KB, "
            f"{self.deltas} deltas ({self.cached_refs} cached), {len(self.widgets)} widgets{problems}"
        )


def _element_text(kind: str, proto: Any) -> str | None:
    if kind == "metric":
        return f"{proto.label}: {proto.body} {proto.delta}".strip()
    if kind == "exception":
        return f"{proto.type}: {proto.message}"
    name = TEXT_FIELDS.get(kind)
    return getattr(proto, name) if name else None


def _new_widget(kind: str, proto: Any, fragment_id: str, children: list[Node]) -> Widget | None:
    """A Widget for an element (or stateful block) the browser keeps a value for; None otherwise.

    The initial value follows each frontend widget's getDefaultStateFromProto / getCurrStateFromProto:
    ``set_value`` (the script set it through session state) means the current value, else the default.
    """
    label = getattr(proto, "label", "")
    disabled = getattr(proto, "disabled", False)
    if kind in TRIGGERS:
        return Widget(proto.id, kind, label, fragment_id, None, disabled=disabled)
    if kind == "checkbox":
        value = proto.value if proto.set_value else proto.default
        return Widget(proto.id, kind, label, fragment_id, "bool_value", value=value, disabled=disabled)
    if kind in ("radio", "selectbox"):
        options = tuple(proto.options)
        value = options[proto.default] if proto.HasField("default") and options else None
        if proto.set_value:
            value = proto.raw_value if proto.HasField("raw_value") else None
        return Widget(proto.id, kind, label, fragment_id, "string_value", options, value, disabled)
    if kind == "slider":
        options = tuple(proto.options)
        if proto.type == Slider.SELECT_SLIDER:
            value = (
                list(proto.raw_value)
                if proto.set_value and proto.raw_value
                else [options[int(i)] for i in proto.default]
            )
            return Widget(proto.id, kind, label, fragment_id, "string_array_value", options, value, disabled)
        value = list(proto.value) if proto.set_value else list(proto.default)
        return Widget(proto.id, kind, label, fragment_id, "double_array_value", options, value, disabled)
    if kind == "number_input":
        value = proto.default if proto.HasField("default") else None
        if proto.set_value:
            value = proto.value if proto.HasField("value") else value
        integer = proto.data_type == NumberInput.INT
        if integer and value is not None:
            value = int(value)
        return Widget(
            proto.id,
            kind,
            label,
            fragment_id,
            "int_value" if integer else "double_value",
            value=value,
            disabled=disabled,
        )
    if kind in ("text_input", "text_area"):
        value = proto.default if proto.HasField("default") else None
        if proto.set_value:
            value = proto.value if proto.HasField("value") else None
        return Widget(proto.id, kind, label, fragment_id, "string_value", value=value, disabled=disabled)
    if kind == "multiselect":
        options = tuple(proto.options)
        value = list(proto.raw_values) if proto.set_value else [options[int(i)] for i in proto.default]
        return Widget(proto.id, kind, label, fragment_id, "string_array_value", options, value, disabled)
    if kind == "button_group":
        options = tuple(option.content for option in proto.options)
        value = list(proto.raw_values) if proto.set_value else [options[int(i)] for i in proto.default]
        return Widget(proto.id, kind, label, fragment_id, "string_array_value", options, value, disabled)
    if kind in ("file_uploader", "camera_input"):  # the frontend commits an empty FileUploaderState on mount
        return Widget(
            proto.id,
            kind,
            label,
            fragment_id,
            "file_uploader_state_value",
            value=FileUploaderState(),
            disabled=disabled,
        )
    if kind == "tab_container" and proto.tab_container.HasField("id"):
        # The server is authoritative: default_tab_index is the open tab; the labels are the child blocks.
        labels = tuple(child.proto.tab.label for child in children)
        index = proto.tab_container.default_tab_index
        value = labels[index] if 0 <= index < len(labels) else None
        return Widget(proto.tab_container.id, kind, "", fragment_id, "string_value", labels, value)
    if kind in ("expandable", "popover") and getattr(proto, kind).HasField("id"):
        block = getattr(proto, kind)
        return Widget(
            block.id,
            kind,
            getattr(block, "label", ""),
            fragment_id,
            "bool_value",
            value=bool(getattr(block, "expanded", False)),
        )
    return None


def _cookie(host: str, name: str, value: str) -> http.cookiejar.Cookie:
    """A cookie the server set for `host` earlier, as the jar keeps it."""
    return http.cookiejar.Cookie(
        0, name, value, None, False, host, False, False, "/", True, False, None, False, None, None, {}
    )


class Session:
    """One browser tab's session. Use ``async with Session(url) as s: await s.visit("filters")``."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 300.0,
        fetch_media: bool = False,
        name: str = "",
        cookies: dict[str, str] | None = None,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.timeout, self.fetch_media, self.name = timeout, fetch_media, name
        self.ws = None
        self.session_id = ""
        self.xsrf = ""
        # The browser's cookie jar: `cookies` (e.g. a route cookie it already holds), then every cookie the
        # answers set (the XSRF cookie, a proxy's route cookie), sent with the websocket, uploads and media.
        self.cookies = http.cookiejar.CookieJar()
        host = urllib.parse.urlsplit(self.base).hostname or ""
        for cookie_name, value in (cookies or {}).items():
            self.cookies.set_cookie(_cookie(host, cookie_name, value))
        self._http = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.query_string = ""
        self.page_hashes: dict[str, str] = {}  # url path -> page_script_hash ("" is the default page)
        self.page_hash = ""
        self.main_hash = ""
        self.max_cache_age = 2
        self.nodes: dict[tuple[int, ...], Node] = {}
        self.values: dict[str, Any] = {}  # widget id -> value (the browser's WidgetStateManager)
        self.widgets: dict[str, Widget] = {}
        self.auto_reruns: dict[str, float] = {}  # fragment id -> interval (st.fragment(run_every=...))
        self.cache: dict[str, list] = {}  # hash -> [serialized ForwardMsg, run count when last used, fragment id]
        self.cache_runs = 0
        self.seen_media: set[str] = set()
        self.idle_bytes = 0  # bytes that arrived outside any rerun (late messages)
        self._run: RunResult | None = None
        self._done: asyncio.Event | None = None
        self._run_id = ""
        self._run_fragments: list[str] = []
        self._reader: asyncio.Task | None = None
        self._file_urls: dict[str, asyncio.Future] = {}
        self._closed_error: BaseException | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ connection

    async def __aenter__(self) -> Session:
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self, page: str = "") -> None:
        """Load the page's URL (`page`: its url path, "" for Home), then open the websocket with this learner's
        cookies."""
        self.xsrf = await asyncio.to_thread(self._xsrf_cookie, page)
        parts = urllib.parse.urlsplit(self.base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}{parts.path}/_stcore/stream"
        protocols = ["streamlit", self.xsrf] if self.xsrf else ["streamlit"]
        headers = {"Cookie": self.cookie_header()} if len(self.cookies) else None
        self.ws = await websockets.connect(
            url,
            subprotocols=protocols,
            additional_headers=headers,
            max_size=None,
            compression=None,
            open_timeout=self.timeout,
            ping_interval=None,
        )
        self._reader = asyncio.create_task(self._read(), name=f"ws-reader-{self.name}")

    def _xsrf_cookie(self, page: str = "") -> str:
        """GET the page (a proxy in front sets its cookies here), then the health check (Streamlit's XSRF cookie)."""
        for path in (f"/{page.strip('/')}", "/_stcore/health"):
            with self._http.open(f"{self.base}{path}", timeout=self.timeout) as response:
                response.read()
        return next((c.value or "" for c in self.cookies if c.name == XSRF_COOKIE), "")

    def cookie_header(self) -> str:
        """This learner's cookies as a browser sends them in a ``Cookie`` header."""
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass

    # ------------------------------------------------------------------ what a learner does

    async def visit(self, page: str = "", query: str | dict | None = None) -> RunResult:
        """Open a page by its url path ("" or "home" for the default page), as a link or a sidebar click would.

        The first visit of a session is a page load: ``page_name`` from the URL and its query string. Later
        visits are sidebar clicks: the page's ``page_script_hash``, no query string (Streamlit drops it when
        the page changes) unless `query` is given, and only the main script's widgets.
        """
        query_string = urllib.parse.urlencode(query) if isinstance(query, dict) else (query or "")
        page = page.strip("/")
        if page == "home":
            page = ""
        page_hash = self.page_hashes.get(page)
        if self.session_id and page_hash is not None:
            states = [
                s for w in self.widgets.values() if w.script_hash == self.main_hash and (s := w.state()) is not None
            ]
            return await self.rerun(states, page_script_hash=page_hash, query_string=query_string)
        return await self.rerun(self._states(), page_name=page, query_string=query_string)

    async def follow_link(self, page: str, query: str | dict | None = None) -> RunResult:
        """Open a page with a link's settings in this session: its url path as ``page_name`` and the link's query
        string (e.g. ``{"kernel": "Sharpen"}``), with only the main script's widgets, as a page change does."""
        query_string = urllib.parse.urlencode(query) if isinstance(query, dict) else (query or "")
        page = page.strip("/")
        states = [s for w in self.widgets.values() if w.script_hash == self.main_hash and (s := w.state()) is not None]
        return await self.rerun(states, page_name="" if page == "home" else page, query_string=query_string)

    def widget(self, name: str, kind: str | None = None) -> Widget:
        """The widget whose key, label or id is `name` (key first), optionally of one element type."""
        candidates = [w for w in self.widgets.values() if kind is None or w.kind == kind]
        for test in (
            lambda w: w.key == name,
            lambda w: w.label == name,
            lambda w: w.id == name,
            lambda w: w.label.startswith(name),
        ):
            found = [w for w in candidates if test(w)]
            if found:
                return found[0]
        raise KeyError(
            f"no widget {name!r} on the page; there are: "
            + ", ".join(f"{w.kind} {w.key or w.label!r}" for w in self.widgets.values())
        )

    async def set(self, name: str, value: Any) -> RunResult:
        """Change one widget (by key or label) and rerun with every other widget's current value.

        Values are what the widget shows: an option label for a selectbox / radio / select_slider / tab, a
        number for a number_input, a number or a (low, high) pair for a slider, a bool for a checkbox or toggle,
        a list of option labels for a multiselect or segmented control.
        """
        widget = self.widget(name)
        wire = _to_wire(widget, value)
        widget.value = wire
        self.values[widget.id] = wire
        return await self.rerun(self._states(), fragment_id=widget.fragment_id)

    async def click(self, name: str) -> RunResult:
        """Press a button (by key or label): trigger_value=True for this rerun, the other widgets as they are."""
        widget = self.widget(name, "button")
        states = [s for w in self.widgets.values() if w.id != widget.id and (s := w.state()) is not None]
        states.append(WidgetState(id=widget.id, trigger_value=True))
        return await self.rerun(states, fragment_id=widget.fragment_id)

    async def upload(self, name: str, filename: str, data: bytes, mime: str = "application/octet-stream") -> RunResult:
        """Upload one file to an st.file_uploader (by key or label) as the browser does, then rerun."""
        widget = self.widget(name, "file_uploader")
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        self._file_urls[request_id] = future
        message = BackMsg()
        message.file_urls_request.request_id = request_id
        message.file_urls_request.session_id = self.session_id
        message.file_urls_request.file_names.append(filename)
        await self.ws.send(message.SerializeToString())
        response = await asyncio.wait_for(future, self.timeout)
        if response.error_msg or not response.file_urls:
            raise ClientError(f"file_urls_request refused: {response.error_msg!r}")
        urls = response.file_urls[0]
        await asyncio.to_thread(self._put, urls.upload_url, filename, data, mime)
        info = UploadedFileInfo(
            name=filename,
            size=len(data),
            file_id=urls.file_id,
            file_urls=FileURLs(file_id=urls.file_id, upload_url=urls.upload_url, delete_url=urls.delete_url),
        )
        upload_seconds = time.perf_counter() - started
        widget.value = FileUploaderState(uploaded_file_info=[info])
        self.values[widget.id] = widget.value
        result = await self.rerun(self._states(), fragment_id=widget.fragment_id)
        result.upload_seconds = upload_seconds
        return result

    def _put(self, upload_url: str, filename: str, data: bytes, mime: str) -> None:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                f"Content-Type: {mime}\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        url = upload_url if upload_url.startswith("http") else f"{self.base}{upload_url}"
        request = urllib.request.Request(
            url,
            data=body,
            method="PUT",
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "X-Xsrftoken": self.xsrf,
            },
        )
        with self._http.open(request, timeout=self.timeout) as response:
            if response.status not in (200, 204):
                raise ClientError(f"upload PUT {url} answered {response.status}")

    async def auto_rerun(self, fragment_id: str | None = None) -> RunResult:
        """One tick of an ``st.fragment(run_every=...)``: the fragment rerun the browser's timer sends."""
        fragment_id = fragment_id or next(iter(self.auto_reruns))
        return await self.rerun(self._states(), fragment_id=fragment_id, is_auto_rerun=True)

    # ------------------------------------------------------------------ the protocol

    def _states(self) -> list[WidgetState]:
        return [s for w in self.widgets.values() if (s := w.state()) is not None]

    async def rerun(
        self,
        states: list[WidgetState],
        *,
        fragment_id: str = "",
        page_name: str | None = None,
        page_script_hash: str | None = None,
        query_string: str | None = None,
        is_auto_rerun: bool = False,
    ) -> RunResult:
        """Send one rerun_script and wait for the run chain to finish; the lock keeps one run at a time."""
        async with self._lock:
            if self._closed_error is not None:
                raise ClientError(f"connection closed: {self._closed_error!r}")
            message = BackMsg()
            client = message.rerun_script
            client.query_string = self.query_string if query_string is None else query_string
            client.widget_states.widgets.extend(states)
            client.page_script_hash = self.page_hash if page_script_hash is None else page_script_hash
            if page_name is not None:
                client.page_name = page_name
                client.page_script_hash = ""
            client.fragment_id = fragment_id
            client.is_auto_rerun = is_auto_rerun
            client.cached_message_hashes.extend(self.cache)
            info = client.context_info
            info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
            info.url, info.is_embedded, info.color_scheme = f"{self.base}/", False, "light"
            if query_string is not None:
                self.query_string = query_string
            self._run = RunResult(fragment_id=fragment_id)
            self._done = asyncio.Event()
            self._run.started_at = time.time()
            started = time.perf_counter()
            await self.ws.send(message.SerializeToString())
            try:
                await asyncio.wait_for(self._done.wait(), self.timeout)
            except TimeoutError as error:
                raise ClientError(f"no script_finished within {self.timeout:.0f} s") from error
            run = self._run
            run.seconds = time.perf_counter() - started
            self._run = None
            if self._closed_error is not None and run.status == "":
                raise ClientError(f"connection closed: {self._closed_error!r}")
            run.widgets = list(self.widgets.values())
            run.page = next((path for path, h in self.page_hashes.items() if h == self.page_hash and path), "")
        if self.fetch_media:
            await self._fetch_media(run)
        return run

    async def _fetch_media(self, run: RunResult) -> None:
        for url in run.media_urls:
            if url in self.seen_media:
                continue
            self.seen_media.add(url)
            full = url if url.startswith("http") else f"{self.base}{url}"
            run.media_bytes += await asyncio.to_thread(lambda full=full: len(self._http.open(full).read()))

    async def _read(self) -> None:
        try:
            async for payload in self.ws:
                self._handle(payload)
        except (websockets.ConnectionClosed, OSError) as error:
            self._closed_error = error
        except Exception as error:  # a bug here must not hang the caller waiting for script_finished
            self._closed_error = error
            raise
        finally:
            if self._closed_error is None:
                self._closed_error = ConnectionError("websocket closed")
            if self._done is not None:
                self._done.set()

    def _handle(self, payload: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(payload)
        run = self._run
        if run is not None:
            run.bytes += len(payload)
            run.messages += 1
        else:
            self.idle_bytes += len(payload)
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                raise ClientError(f"cached ForwardMsg miss for hash {msg.ref_hash}")
            cached[1] = self.cache_runs
            metadata = msg.metadata
            msg = ForwardMsg()
            msg.ParseFromString(cached[0])
            msg.metadata.CopyFrom(metadata)
            kind = msg.WhichOneof("type")
            if run is not None:
                run.cached_refs += 1
        elif msg.metadata.cacheable and msg.hash and msg.hash not in self.cache:
            self.cache[msg.hash] = [payload, self.cache_runs, msg.delta.fragment_id if msg.HasField("delta") else ""]
        if kind == "new_session":
            self._new_session(msg)
        elif kind == "delta":
            self._delta(msg, run)
        elif kind == "navigation":
            self._pages(msg.navigation.app_pages)
            if msg.navigation.page_script_hash:
                self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "script_finished":
            self._finished(msg)
        elif kind == "page_not_found":
            if run is not None:
                run.exceptions.append(f"page not found: {msg.page_not_found.page_name!r}")
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            if run is not None:
                error = msg.session_event.script_compilation_exception
                run.exceptions.append(f"{error.type}: {error.message}")
        elif kind == "auto_rerun":
            self.auto_reruns[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fragment in msg.stop_auto_rerun.fragment_ids or list(self.auto_reruns):
                self.auto_reruns.pop(fragment, None)
        elif kind == "file_urls_response":
            future = self._file_urls.pop(msg.file_urls_response.response_id, None)
            if future is not None and not future.done():
                future.set_result(msg.file_urls_response)

    def _pages(self, pages) -> None:
        for page in pages:
            path = "" if page.is_default else page.url_pathname
            self.page_hashes[path] = page.page_script_hash
            if page.is_default:
                self.page_hashes.setdefault(page.url_pathname, page.page_script_hash)

    def _new_session(self, msg: ForwardMsg) -> None:
        new = msg.new_session
        if new.HasField("initialize") and new.initialize.session_id:
            self.session_id = new.initialize.session_id
        self.main_hash = new.main_script_hash
        self.max_cache_age = new.config.max_cached_message_age or self.max_cache_age
        self._pages(new.app_pages)
        if new.page_script_hash and new.page_script_hash != self.page_hash and self.page_hash:
            # clearPageElements: a new page keeps only what the main script drew.
            self.nodes = {path: node for path, node in self.nodes.items() if node.script_hash == self.main_hash}
        self.page_hash = new.page_script_hash or self.page_hash
        self._run_id = msg.metadata.run.script_run_id
        self._run_fragments = list(msg.metadata.run.fragment_ids)
        if self._run is not None:
            self._run.runs += 1
            self.auto_reruns = {} if not self._run_fragments else self.auto_reruns

    def _delta(self, msg: ForwardMsg, run: RunResult | None) -> None:
        delta = msg.delta
        kind = delta.WhichOneof("type")
        if run is not None and kind not in ("new_element", "add_block"):
            run.deltas += 1  # new_transient (spinners): counted, not part of the page
        if kind not in ("new_element", "add_block"):
            return
        proto = delta.new_element if kind == "new_element" else delta.add_block
        element_kind = proto.WhichOneof("type") or "block"
        path = tuple(msg.metadata.delta_path)
        self.nodes[path] = Node(
            element_kind, proto, kind == "add_block", self._run_id, delta.fragment_id, msg.metadata.active_script_hash
        )
        if run is None:
            return
        run.deltas += 1
        run.bytes_by_type[element_kind] += msg.ByteSize()
        text = _element_text(element_kind, getattr(proto, element_kind, None)) if kind == "new_element" else None
        if text:
            run.texts.append(text)
        if element_kind == "exception":
            run.exceptions.append(text)
            run.traces.append(list(proto.exception.stack_trace))
        if element_kind == "imgs":
            run.media_urls.extend(image.url for image in proto.imgs.imgs)

    def _finished(self, msg: ForwardMsg) -> None:
        status = msg.script_finished
        run = self._run
        if status != EARLY:
            fragments = list(msg.metadata.run.fragment_ids) or self._run_fragments
            if status != ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                self._clear_stale(fragments)
            self._age_cache(fragments)
            self._collect_widgets()
        if run is None:
            return
        run.status = ForwardMsg.ScriptFinishedStatus.Name(status)
        if status != EARLY and self._done is not None:
            self._done.set()

    def _clear_stale(self, fragments: list[str]) -> None:
        """clearStaleNodes: drop what this run did not write (for a fragment run, only inside its fragments)."""
        if fragments:
            self.nodes = {
                p: n for p, n in self.nodes.items() if n.run_id == self._run_id or n.fragment_id not in fragments
            }
        else:
            self.nodes = {p: n for p, n in self.nodes.items() if n.run_id == self._run_id}
        # A node whose ancestor was replaced by an element (or dropped) is not on the page either.
        self.nodes = {
            p: n
            for p, n in self.nodes.items()
            if all(p[:i] in self.nodes and self.nodes[p[:i]].is_block for i in range(2, len(p)))
        }

    def _age_cache(self, fragments: list[str]) -> None:
        """ForwardMessageCache.incrementRunCount: expire entries unused for more than max age runs."""
        self.cache_runs += 1
        for key, (_, last, fragment) in list(self.cache.items()):
            if fragments and fragment not in fragments:
                continue
            if self.cache_runs - last > self.max_cache_age:
                del self.cache[key]

    def _collect_widgets(self) -> None:
        """The widgets on the page now, each keeping this client's value unless the server set a new one."""
        children: dict[tuple[int, ...], list[Node]] = {}
        for path, node in sorted(self.nodes.items()):
            children.setdefault(path[:-1], []).append(node)
        widgets: dict[str, Widget] = {}
        for path, node in sorted(self.nodes.items()):
            source = node.proto if node.is_block else getattr(node.proto, node.kind, None)
            if source is None:
                continue
            widget = _new_widget(node.kind, source, node.fragment_id, children.get(path, []) if node.is_block else [])
            if widget is None:
                continue
            server_set = getattr(source, "set_value", False) or node.kind == "tab_container"
            if widget.id in self.values and not server_set:
                widget.value = self.values[widget.id]
            widget.script_hash = node.script_hash
            widgets[widget.id] = widget
        self.widgets = widgets
        self.values = {wid: w.value for wid, w in widgets.items() if w.field is not None}
        # The frontend clears set_value once applied; do the same so a later run's echo does not reset it.
        for node in self.nodes.values():
            source = None if node.is_block else getattr(node.proto, node.kind, None)
            if source is not None and getattr(source, "set_value", False):
                source.set_value = False

    # ------------------------------------------------------------------ reading the page

    def page_text(self) -> str:
        """All text on the page now (what a reader of the screen would see), in delta-path order."""
        texts = []
        for _, node in sorted(self.nodes.items()):
            if not node.is_block:
                text = _element_text(node.kind, getattr(node.proto, node.kind, None))
                if text:
                    texts.append(text)
        return "\n".join(texts)

    def elements(self, kind: str) -> list[Any]:
        """The protos of every element of one type on the page now (e.g. "plotly_chart", "metric")."""
        return [getattr(n.proto, kind) for _, n in sorted(self.nodes.items()) if not n.is_block and n.kind == kind]


def _to_wire(widget: Widget, value: Any) -> Any:
    """A value as the widget shows it -> what its WidgetState carries."""
    if widget.field in ("string_value",) and widget.options and value not in widget.options:
        raise ValueError(f"{value!r} is not an option of {widget.kind} {widget.label!r}: {widget.options}")
    if widget.kind == "slider":
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if widget.field == "string_array_value":
            values = [str(v) for v in values]
            bad = [v for v in values if v not in widget.options]
            if bad:
                raise ValueError(f"{bad} not among the options of {widget.label!r}: {widget.options}")
        else:
            values = [float(v) for v in values]
        return values
    if widget.field == "string_array_value" and not isinstance(value, (list, tuple)):
        return [value]
    return value


# ---------------------------------------------------------------------- as a script


async def _demo(url: str, pages: list[str]) -> None:
    async with Session(url, fetch_media=True) as session:
        for page in pages:
            result = await session.visit(page)
            print(result.summary(), f"media {result.media_bytes / 1024:.0f} KB")
            print(
                "   widgets:",
                ", ".join(f"{w.kind}:{w.key or w.label!r}={w.value!r}" for w in result.widgets if w.field)[:600],
            )
            print("   bytes by type:", json.dumps(dict(result.bytes_by_type.most_common(6))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: serve one)")
    parser.add_argument("pages", nargs="*", default=["", "filters"], help="url paths to visit in order")
    args = parser.parse_args()
    if args.url:
        asyncio.run(_demo(args.url, args.pages))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.browser import streamlit_server

    with streamlit_server() as server:
        asyncio.run(_demo(server.url, args.pages))


if __name__ == "__main__":
    main()
