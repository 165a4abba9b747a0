"""Check benchmarks/ws_client.py against a real browser: same reruns, same widget states, same replies.

Chromium (Playwright) and the websocket client do the same clicks on one served app: open Filters, pick
another kernel, move the step-by-step slider (a widget inside an ``st.fragment``), upload a 1024x1024 photo,
open Pooling, type a pool size, open Inspect and its Evaluation tab. Every ``BackMsg`` the browser sends is
captured from its websocket, and so is every ``ForwardMsg`` it receives. For each step the script prints
the browser's and the client's widget states (by key), fragment id and page, the deltas and bytes each
received, and whether they agree.
Exit code 1 when a rerun's widget states, fragment id or delta count differ. Written against Streamlit 1.67.0.

Usage: python benchmarks/ws_vs_browser.py [--url http://127.0.0.1:8501]     (needs /usr/bin/chromium)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from benchmarks.ws_client import Session  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_until_idle  # noqa: E402

KERNEL = "Sobel: horizontal edges"
PHOTO = Path("/tmp/cnn-lab-photo-1024.jpg")


def short_states(client_state) -> dict[str, str]:
    """{key or id: value} of a ClientState's widget states (trigger values included)."""
    states = {}
    for state in client_state.widget_states.widgets:
        parts = state.id.split("-", 2)
        name = parts[2] if len(parts) == 3 and parts[2] != "None" else state.id[:14]
        field = state.WhichOneof("value")
        value = getattr(state, field) if field else None
        if field and field.endswith("_array_value"):
            value = list(value.data)
        elif field == "file_uploader_state_value":
            value = [info.name for info in value.uploaded_file_info]
        states[name] = value
    return states


class Recorder:
    """The browser's websocket traffic: reruns sent, and per rerun the deltas and bytes received."""

    def __init__(self) -> None:
        self.reruns: list[dict] = []
        self.lock = threading.Lock()

    def sent(self, payload) -> None:
        if isinstance(payload, str):
            return
        message = BackMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "rerun_script":
            with self.lock:
                self.reruns.append({"state": message.rerun_script, "deltas": 0, "bytes": 0, "refs": 0})

    def received(self, payload) -> None:
        if isinstance(payload, str):
            return
        message = ForwardMsg()
        message.ParseFromString(payload)
        with self.lock:
            if not self.reruns:
                return
            current = self.reruns[-1]
            current["bytes"] += len(payload)
            if message.WhichOneof("type") in ("delta", "ref_hash"):
                current["deltas"] += 1
                current["refs"] += message.WhichOneof("type") == "ref_hash"


def browser_steps(url: str) -> list[dict]:
    from playwright.sync_api import sync_playwright

    recorder = Recorder()
    steps: list[tuple[str, int]] = []  # (step name, index of its first rerun)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("websocket", lambda ws: (ws.on("framesent", recorder.sent), ws.on("framereceived", recorder.received)))

        def step(name: str, action) -> None:
            steps.append((name, len(recorder.reruns)))
            action()
            page.wait_for_timeout(300)
            wait_until_idle(page, timeout_ms=180_000)

        step("open Filters", lambda: page.goto(f"{url}/filters"))

        def pick_kernel() -> None:
            box = page.get_by_test_id("stSelectbox").filter(has_text="Named kernel").locator("input")
            box.click()
            box.fill(KERNEL)
            page.get_by_role("option", name=KERNEL, exact=True).click()

        step("Filters: pick a kernel", pick_kernel)

        def move_slider() -> None:
            thumb = page.get_by_test_id("stSlider").filter(has_text="Output row").get_by_role("slider")
            thumb.focus()
            thumb.press("ArrowRight")

        step("Filters: move the step-by-step row (fragment)", move_slider)

        step(
            "Filters: image source Upload",
            lambda: page.get_by_test_id("stRadio").filter(has_text="Image").get_by_text("Upload", exact=True).click(),
        )
        step(
            "Filters: upload a 1024x1024 photo",
            lambda: page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(PHOTO)),
        )
        step("open Pooling", lambda: page.get_by_test_id("stSidebarNavLink").filter(has_text="Pooling").click())

        def pool_size() -> None:
            field = page.get_by_role("spinbutton", name="Pool size (window side)")
            field.fill("3")
            field.press("Enter")

        step("Pooling: pool size 3", pool_size)
        step("open Inspect", lambda: page.get_by_test_id("stSidebarNavLink").filter(has_text="Inspect").click())
        step("Inspect: Evaluation tab", lambda: page.get_by_role("tab", name="Evaluation").click())
        page.wait_for_timeout(500)
        browser.close()
    results = []
    for number, (name, first) in enumerate(steps):
        last = steps[number + 1][1] if number + 1 < len(steps) else len(recorder.reruns)
        results.append({"name": name, "reruns": recorder.reruns[first:last]})
    return results


async def client_steps(url: str) -> list[dict]:
    async with Session(url) as session:
        steps = []

        async def step(name: str, action) -> None:
            sent = []
            original = session.ws.send

            async def spy(data):
                message = BackMsg()
                message.ParseFromString(data)
                if message.WhichOneof("type") == "rerun_script":
                    sent.append(message.rerun_script)
                await original(data)

            session.ws.send = spy
            result = await action()
            session.ws.send = original
            steps.append(
                {
                    "name": name,
                    "state": sent[-1],
                    "deltas": result.deltas,
                    "bytes": result.bytes,
                    "refs": result.cached_refs,
                }
            )

        await step("open Filters", lambda: session.visit("filters"))
        await step("Filters: pick a kernel", lambda: session.set("filters_library", KERNEL))
        row = next(w for w in session.widgets.values() if (w.key or "").startswith("filters_step_row"))
        await step("Filters: move the step-by-step row (fragment)", lambda: session.set(row.key, row.value[0] + 1))
        await step("Filters: image source Upload", lambda: session.set("filters_source", "Upload"))
        await step(
            "Filters: upload a 1024x1024 photo",
            lambda: session.upload("filters_upload", PHOTO.name, PHOTO.read_bytes(), "image/jpeg"),
        )
        await step("open Pooling", lambda: session.visit("pooling"))
        await step("Pooling: pool size 3", lambda: session.set("pool_size", 3))
        await step("open Inspect", lambda: session.visit("inspect"))
        await step("Inspect: Evaluation tab", lambda: session.set("inspect_tab", "Evaluation"))
        return steps


def compare(browser: list[dict], client: list[dict]) -> bool:
    ok = True
    for seen, mine in zip(browser, client):
        print(f"\n== {seen['name']}")
        if not seen["reruns"]:
            print("   browser sent no rerun")
            ok = False
            continue
        # The browser's last rerun of a step is the one the click caused (a page load may send one before it).
        theirs = seen["reruns"][-1]
        b_state, c_state = short_states(theirs["state"]), short_states(mine["state"])
        same_states = b_state == c_state
        same_fragment = theirs["state"].fragment_id == mine["state"].fragment_id
        same_page = (theirs["state"].page_script_hash, theirs["state"].page_name) == (
            mine["state"].page_script_hash,
            mine["state"].page_name,
        )
        same_deltas = theirs["deltas"] == mine["deltas"]
        ok &= same_states and same_fragment and same_deltas
        print(
            f"   browser: {len(seen['reruns'])} rerun(s); last: {theirs['deltas']} deltas ({theirs['refs']} cached), "
            f"{theirs['bytes'] / 1024:.1f} KB, fragment {theirs['state'].fragment_id[:8] or '-'}, "
            f"page {theirs['state'].page_name or theirs['state'].page_script_hash[:8]!r}, "
            f"query {theirs['state'].query_string!r}"
        )
        print(
            f"   client:  {mine['deltas']} deltas ({mine['refs']} cached), {mine['bytes'] / 1024:.1f} KB, "
            f"fragment {mine['state'].fragment_id[:8] or '-'}, "
            f"page {mine['state'].page_name or mine['state'].page_script_hash[:8]!r}, "
            f"query {mine['state'].query_string!r}"
        )
        print(
            f"   widget states {'SAME' if same_states else 'DIFFER'}, "
            f"fragment {'same' if same_fragment else 'DIFFERS'}, "
            f"page {'same' if same_page else 'differs'}, deltas {'same' if same_deltas else 'DIFFER'}"
        )
        if not same_states:
            for name in sorted(set(b_state) | set(c_state)):
                if b_state.get(name, "<absent>") != c_state.get(name, "<absent>"):
                    print(
                        f"     {name}: browser {b_state.get(name, '<absent>')!r} "
                        f"client {c_state.get(name, '<absent>')!r}"
                    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running app (default: serve one per side)")
    args = parser.parse_args()
    from benchmarks.rerun_cost import photo

    PHOTO.write_bytes(photo())
    if args.url:
        browser = browser_steps(args.url)
        client = asyncio.run(client_steps(args.url))
    else:
        with streamlit_server() as server:
            browser = browser_steps(server.url)
        with streamlit_server() as server:
            client = asyncio.run(client_steps(server.url))
    ok = compare(browser, client)
    print("\nclient behaves like the browser" if ok else "\nclient and browser DIFFER")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
