"""The model uploader under fuzzing: mutated real .keras files and arbitrary bytes are stored or refused clearly.

Reuses tests/test_bad_input.py's mutations (truncate, flip, insert, delete, overwrite the header). Every input
either becomes a run that loads and predicts probabilities, or raises UploadError with a message; nothing else
escapes, and nothing is left in the staging folder.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.session_keys import INSPECT_UPLOAD, LEARNER
from models.card import SHIPPED_MODEL
from models.data import load_fashion_mnist, scale_images
from models.runs import RunStore
from models.uploads import UploadError, store_upload
from tests.apptest import checked, open_page
from tests.test_bad_input import MUTATIONS, mutate

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEED = SHIPPED_MODEL.read_bytes()
TEST = load_fashion_mnist()[1]
STORE = RunStore(Path(tempfile.mkdtemp(prefix="cnn-lab-byo-fuzz-")))
OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_outcomes():
    yield
    print(f"\nmodel upload outcomes ({sum(OUTCOMES.values())} files tried): {dict(sorted(OUTCOMES.items()))}")


def try_upload(data: bytes) -> str:
    """Stored (its model predicts probabilities) or refused with a non-empty message; the staging folder stays empty."""
    try:
        run = store_upload(STORE, "fuzz", data, "fuzzed.keras", TEST)
    except UploadError as error:
        assert str(error).strip()
        outcome = "refused: " + str(error).split(":")[1].strip()[:40] if ":" in str(error) else "refused"
    else:
        probabilities = run.model(scale_images(TEST[0][:2]), training=False)
        np.testing.assert_allclose(np.asarray(probabilities).sum(axis=1), 1, atol=1e-3)
        STORE.remove("fuzz", run.run_id)
        outcome = "stored"
    assert list((STORE.root / "staging").iterdir()) == []
    OUTCOMES[outcome] += 1
    return outcome


@FUZZ
@given(st.lists(MUTATIONS, min_size=1, max_size=4))
def test_mutated_model_files_are_stored_or_refused_clearly(mutations):
    try_upload(mutate(SEED, mutations))


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_refused_clearly(data):
    assert try_upload(data) != "stored"


def test_the_uploader_survives_a_session_of_damaged_files_then_takes_a_good_one():
    app = open_page("pages/inspect.py", timeout=300, session={LEARNER: "byo-fuzz"})
    rng = np.random.default_rng(19)
    for number in range(6):
        cut = int(rng.integers(1, len(SEED)))
        data = mutate(SEED, [("truncate", cut / len(SEED))] if number % 2 else [("flip", cut / len(SEED), 0xFF)])
        app.file_uploader(key=INSPECT_UPLOAD).set_value((f"bad{number}.keras", data, "application/octet-stream"))
        checked(app.run())
        assert [e.value for e in app.error] or [s.value for s in app.success], number
        assert all(message.value.strip() for message in app.error)
    app.file_uploader(key=INSPECT_UPLOAD).set_value(("good.keras", SEED, "application/octet-stream"))
    checked(app.run())
    assert app.success and not app.error
