"""components.framework.heap: what the server loaded is frozen once per batch of imports, so post-run collections
skip it."""

import subprocess
import sys

from tests.support.browser import ROOT

SCRIPT = r"""
import gc, json, sys, time, types
import numpy, plotly.graph_objects, scipy.ndimage  # what every lab page imports
from components.framework.heap import NEW_MODULES, freeze_after_imports

def full_collection() -> float:
    start = time.perf_counter()
    gc.collect()
    return time.perf_counter() - start

gc.collect()
before = full_collection()
tracked = len(gc.get_objects())
first = freeze_after_imports()
frozen = gc.get_freeze_count()
after = full_collection()
again = freeze_after_imports()  # nothing imported since: nothing to do
for n in range(NEW_MODULES):
    sys.modules[f"fake_module_{n}"] = types.ModuleType(f"fake_module_{n}")
later = freeze_after_imports()
garbage = [[]]
garbage[0].append(garbage)  # a reference cycle made after the freeze is still collected
del garbage
print(json.dumps(dict(first=first, again=again, later=later, frozen=frozen, tracked=tracked, before=before,
                      after=after, collected=gc.collect())))
"""


def test_the_loaded_heap_is_frozen_once_per_batch_of_imports_and_collections_get_cheap():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    facts = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    assert facts["first"] and not facts["again"] and facts["later"]
    assert facts["frozen"] >= 0.9 * facts["tracked"]  # (nearly) everything alive at the freeze
    assert facts["collected"] >= 1
    assert facts["after"] < facts["before"] / 5, facts  # e.g. 40 ms -> under 1 ms


def test_full_collections_are_spaced_by_collect_every_instead_of_after_every_run(monkeypatch):
    import tomllib
    import types

    from components.framework import heap

    clock = [1000.0]
    monkeypatch.setattr(heap, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    monkeypatch.setattr(heap, "_last_collection", 0.0)
    assert heap.collect_now_and_then()
    clock[0] += heap.COLLECT_EVERY / 2
    assert not heap.collect_now_and_then()
    clock[0] += heap.COLLECT_EVERY / 2
    assert heap.collect_now_and_then()
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False  # Streamlit's collection after every run stays off
