"""A learner's finished runs, kept on disk so a refresh, a lost connection or a server restart loses nothing.

Layout under the data folder ($CNN_LAB_DATA_DIR, default ~/.cache/cnn-lab):

    learners/<sha256 of the learner's token>/<run id>/run.json, model.keras, arrays.npz
    staging/<job id>/          a job's files while it trains; moved into place in one rename when done

A run folder counts only once its `run.json` is there (written last, atomically), and is moved into the
learner's folder with one `os.rename`, so a crash mid-write leaves the previous state. Only the token's
holder can list or open its runs: the folder name is a hash of the token, and nothing lists across learners.
Each learner keeps their last `max_runs` runs for `max_age_days` days, within their disk quota
(models.serving.quota): before a run is moved in, the learner's oldest runs are removed until it fits, and a run that
cannot fit even then (bigger than the quota left after their datasets), or that would pass the server's quota,
is refused with a message (QuotaExceeded) and its folder removed. No TensorFlow here until a run's model is
opened.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import math
import os
import re
import shutil
import threading
import time
import uuid
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from models.design.config import CNNConfig
from models.inputs.fashion_mnist import CLASS_NAMES
from models.serving.quota import DiskQuota, QuotaExceeded, folder_bytes, new_bytes
from models.training.job_protocol import ARRAYS_FILE, MODEL_FILE, RUN_FILE
from models.training.progress import CurvePoint
from models.training.recipes import RunSpec, TrainConfig, epoch_count, regularisation_text

DATA_DIR_ENV = "CNN_LAB_DATA_DIR"
MAX_RUNS = 10
MAX_AGE_DAYS = 7
STAGING_MAX_AGE = 24 * 3600.0  # seconds before an abandoned staging folder is removed
LISTINGS_KEPT = 256  # learners whose run listing stays cached
ARCHITECTURE_FILE = "architecture.json"  # an uploaded model's layer table and summary (models.uploaded.store)
UPLOADED_KERNELS = "first_conv_kernels"  # an uploaded model's first Conv2D kernels (k, k, 1, filters) in arrays.npz
RUN_ID = re.compile(r"\d{8}-\d{6}\.\d{9}-[0-9a-f]{6}")  # as commit() names a run's folder


@dataclass(frozen=True)
class FilterTimeline:
    """First-layer kernels (T, k, k, F) and one sample's first-layer feature maps (T, H, W, F):
    index 0 is the initialisation, index t the end of epoch t."""

    kernels: np.ndarray
    feature_maps: np.ndarray
    sample: np.ndarray  # (28, 28) uint8
    sample_label: int


@dataclass(eq=False)
class TrainingRun:
    """A finished (or stopped) run as saved on disk; its model and arrays load when first used."""

    run_id: str
    folder: Path
    name: str
    config: dict
    history: dict[str, list[float]]
    test_accuracy: float | None
    seconds: float
    test_loss: float | None = None
    stop_reason: str | None = None
    group: int = 0  # runs started by one click share a group
    created: str = ""
    epochs_done: float = 0.0  # batches trained / batches per epoch: 1.45 for a run stopped in its second epoch
    spec_payload: dict | None = None  # RunSpec.to_payload(), saved by the worker (runs saved before it: None)
    shared_with: int = 0  # learners who asked for the same settings and got this run trained once (0: not shared)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names of the classes the run's model predicts: its dataset's, Fashion-MNIST's unless it says."""
        return tuple(self.config.get("class_names") or CLASS_NAMES)

    @classmethod
    def read(cls, folder: Path) -> TrainingRun:
        """The run saved in `folder`; ValueError/OSError if it is incomplete or damaged."""
        record = json.loads((folder / RUN_FILE).read_text())
        if not (folder / MODEL_FILE).is_file():
            raise ValueError(f"{MODEL_FILE} is missing")
        with np.load(folder / ARRAYS_FILE, allow_pickle=False) as saved:
            if "batch_curve" not in saved.files:
                raise ValueError(f"{ARRAYS_FILE} holds no batch curve")
        history = {str(k): [float(x) for x in v] for k, v in dict(record["history"]).items()}
        return cls(
            run_id=folder.name,
            folder=folder,
            name=str(record["name"]),
            config=dict(record["config"]),
            history=history,
            test_accuracy=_number(record.get("test_accuracy")),
            seconds=float(record["seconds"]),
            test_loss=_number(record.get("test_loss")),
            stop_reason=record.get("stop_reason"),
            group=int(record.get("group", 0)),
            created=str(record.get("created", "")),
            epochs_done=float(record.get("epochs_done", len(history.get("loss", [])))),
            spec_payload=dict(record["spec"]) if isinstance(record.get("spec"), dict) else None,
            shared_with=int(record.get("shared_with", 0)),
        )

    def spec(self) -> RunSpec:
        """The run's RunSpec: the one the worker saved, or for an older run rebuilt from its settings (config)."""
        if self.spec_payload is not None:
            return RunSpec.from_payload(self.spec_payload)
        config = self.config
        total = int(config["train_images"]) + int(config["validation_images"])
        recipe = {f.name: config[f.name] for f in fields(TrainConfig) if f.name in config}
        architecture = config.get("architecture")
        return RunSpec(
            architecture=None if architecture is None else CNNConfig.from_dict(architecture),
            hand_picked=config.get("first_layer", "learned") != "learned",
            recipe=TrainConfig(**recipe),
            train_images=total,
            validation_split=int(config["validation_images"]) / total,
            lr_decay=float(config.get("lr_decay", 1.0)),
        )

    @property
    def uploaded(self) -> bool:
        """Whether the learner uploaded this model (models.uploaded.store) rather than trained it here."""
        return bool(self.config.get("uploaded"))

    def architecture(self) -> dict:
        """An uploaded model's layer table rows (or the layer it cannot describe), parameters and summary."""
        return _load_json(str(self.folder / ARCHITECTURE_FILE))

    @property
    def first_conv_kernels(self) -> np.ndarray | None:
        """An uploaded model's first Conv2D kernels (k, k, 1, filters), None without a conv layer."""
        return self.arrays().get(UPLOADED_KERNELS)

    def arrays(self) -> dict[str, np.ndarray]:
        """Batch curve and filter timeline (a few MB): read on demand, a few runs kept in memory per server."""
        return _load_arrays(str(self.folder / ARRAYS_FILE))

    @property
    def epochs_planned(self) -> int:
        return int(self.config.get("epochs", math.ceil(self.epochs_done)))

    @property
    def stopped_mid_epoch(self) -> bool:
        """True when training ended part-way through an epoch (its last epoch values cover only that part)."""
        return self.epochs_done != int(self.epochs_done)

    @property
    def epochs_text(self) -> str:
        """'3 epochs', or for a run that stopped early the epochs it trained: '1.45 of 3 epochs'."""
        return epoch_count(self.epochs_planned, self.epochs_done)

    @property
    def batch_curve(self) -> tuple[CurvePoint, ...]:
        return tuple((float(x), float(loss), float(acc)) for x, loss, acc in self.arrays()["batch_curve"])

    @property
    def timeline(self) -> FilterTimeline | None:
        arrays = self.arrays()
        if "kernels" not in arrays:
            return None
        return FilterTimeline(arrays["kernels"], arrays["feature_maps"], arrays["sample"], int(arrays["sample_label"]))

    @property
    def model(self):
        """The trained keras.Model (loaded once per server with safe_mode; imports TensorFlow)."""
        return _load_model(str(self.folder / MODEL_FILE))

    def keras_bytes(self) -> bytes:
        """The trained model as a .keras archive (loads with keras.models.load_model(..., safe_mode=True))."""
        return (self.folder / MODEL_FILE).read_bytes()

    def history_csv(self) -> str:
        """Per-epoch history as CSV: epoch, then every logged metric."""
        keys = list(self.history)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["epoch", *keys])
        for epoch in range(max((len(v) for v in self.history.values()), default=0)):
            writer.writerow([epoch + 1, *(_cell(self.history[k], epoch) for k in keys)])
        return out.getvalue()


def _number(value) -> float | None:
    return None if value is None else float(value)


def _cell(values: list[float], index: int) -> str:
    return repr(values[index]) if index < len(values) else ""


@functools.lru_cache(maxsize=16)
def _load_arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as saved:
        return {name: saved[name] for name in saved.files}


@functools.lru_cache(maxsize=16)
def _load_json(path: str) -> dict:
    return json.loads(Path(path).read_text())


@functools.lru_cache(maxsize=8)
def _load_model(path: str):
    from models.networks.zoo import load_model_file

    return load_model_file(Path(path))


def comparison_rows(runs: list[TrainingRun]) -> list[dict]:
    """One row per run for the comparison table."""
    rows = []
    for run in runs:
        history, config = run.history, run.config
        rows.append(
            {
                "run": run.name,
                "test acc": run.test_accuracy,
                "val acc": _last(history.get("val_accuracy")),
                "train acc": _last(history.get("accuracy")),
                "epochs": run.epochs_text.removesuffix(" epochs").removesuffix(" epoch"),
                "seconds": round(run.seconds, 1),
                "parameters": config.get("parameters"),
                "batch": config["batch_size"],
                "optimizer": f"{config['optimizer']} {config['learning_rate']:g}"
                + (" one-cycle" if config.get("one_cycle") else "")
                + (f" x{config['lr_decay']:g}/epoch" if config["lr_decay"] != 1 else ""),
                "train images": config["train_images"],
                "against overfitting": regularisation_text(config),
                **overfitting_gaps(history),
                "ended": run.stop_reason or "all epochs",
            }
        )
    return rows


def overfitting_gaps(history: dict[str, list[float]]) -> dict[str, float | int | None]:
    """Training minus validation accuracy after the last epoch ('gap'), and at the epoch of lowest validation loss
    ('best epoch', counted from 1, and 'gap at best'); None without validation."""
    train, val, val_loss = history.get("accuracy") or [], history.get("val_accuracy") or [], history.get("val_loss")
    if not val_loss or len(train) != len(val) or len(val) != len(val_loss):
        return {"gap": None, "best epoch": None, "gap at best": None}
    best = int(np.argmin(val_loss))
    return {"gap": train[-1] - val[-1], "best epoch": best + 1, "gap at best": train[best] - val[best]}


def _last(values: list[float] | None) -> float | None:
    return values[-1] if values else None


class RunStore:
    """Every learner's saved runs under one data folder; safe to share between threads."""

    def __init__(
        self,
        root: Path,
        *,
        max_runs: int = MAX_RUNS,
        max_age_days: float = MAX_AGE_DAYS,
        quota: DiskQuota | None = None,
    ) -> None:
        self.root = Path(root)
        self.max_runs, self.max_age_days = max_runs, max_age_days
        self.quota = quota or DiskQuota.from_environment(self.root)
        (self.root / "learners").mkdir(parents=True, exist_ok=True)
        (self.root / "staging").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._listed: OrderedDict[str, tuple[int, list[TrainingRun], list[str]]] = OrderedDict()
        self._remove_old_staging()

    @classmethod
    def from_environment(cls, environ=os.environ) -> RunStore:
        root = environ.get(DATA_DIR_ENV) or str(Path.home() / ".cache" / "cnn-lab")
        return cls(Path(root).expanduser())

    @staticmethod
    def learner_key(token: str) -> str:
        """The name of the learner's folder: a hash of their token (the token itself is never stored)."""
        if not token:
            raise ValueError("a learner token is needed")
        return hashlib.sha256(token.encode()).hexdigest()[:32]

    def learner_folder(self, token: str) -> Path:
        return self.root / "learners" / self.learner_key(token)

    def share(self, staging: Path, name: str) -> Path:
        """Move a finished job's folder to shared/<name>: the one copy its learners' runs are linked from."""
        TrainingRun.read(staging)  # refuse a folder that is not a complete run
        (staging / "worker.log").unlink(missing_ok=True)
        shared = self.root / "shared" / name
        shared.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, shared)
        return shared

    def adopt(self, key: str, source: Path, *, name: str, group: int, shared_with: int) -> str:
        """The learner's own copy of a shared run (files hard-linked, its record rewritten): their run id.

        Removing it never touches another learner's copy: a hard link is only one of a file's names.
        """
        staging = self.staging_folder()
        for path in source.iterdir():
            if path.name == RUN_FILE or not path.is_file():
                continue
            try:
                os.link(path, staging / path.name)
            except OSError:  # another file system, or links not allowed: copy
                shutil.copy2(path, staging / path.name)
        record = json.loads((source / RUN_FILE).read_text())
        record.update(name=name, group=group, shared_with=shared_with)
        (staging / RUN_FILE).write_text(json.dumps(record))
        return self._move_in(key, staging)

    def run(self, token: str, run_id: str) -> TrainingRun:
        """One of the learner's runs by id (OSError/ValueError if it is gone or damaged)."""
        if not RUN_ID.fullmatch(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        return TrainingRun.read(self.learner_folder(token) / run_id)

    def staging_folder(self) -> Path:
        """A fresh folder for a job's files while it trains."""
        folder = self.root / "staging" / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder

    def commit(self, token: str, staging: Path) -> TrainingRun:
        """Move a finished job's folder into the learner's runs (one rename), then keep only the newest runs."""
        TrainingRun.read(staging)  # refuse a folder that is not a complete run
        (staging / "worker.log").unlink(missing_ok=True)
        run_id = self._move_in(self.learner_key(token), staging)
        return TrainingRun.read(self.learner_folder(token) / run_id)

    def _make_room(self, key: str, staging: Path) -> None:
        """Remove the learner's oldest runs until the run in `staging` fits their quota; QuotaExceeded (the
        staging folder removed) when it cannot fit, or would pass the server's quota."""
        size = folder_bytes(staging)
        try:
            if size + folder_bytes(self.root / "datasets" / key) > self.quota.learner_bytes:
                self.quota.check(key, size, what="The run")  # too big even with no runs kept: refused as it is
            learner = self.root / "learners" / key
            while not self.quota.learner_room(key, size):
                oldest = sorted(p for p in learner.iterdir() if p.is_dir() and RUN_ID.fullmatch(p.name))
                if not oldest:
                    break
                self._remove(key, oldest[0].name)
            # a staging folder in the data folder is already counted in the server's bytes: kept, it adds nothing
            inside = staging.resolve().is_relative_to(self.root.resolve())
            self.quota.check(key, size, new_on_disk=0 if inside else new_bytes(staging), what="The run")
        except QuotaExceeded:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _move_in(self, key: str, staging: Path) -> str:
        """Rename a complete run folder into the learner's runs (room made within their quota, or QuotaExceeded),
        then keep only the newest; its run id."""
        learner = self.root / "learners" / key
        learner.mkdir(parents=True, exist_ok=True)
        self._make_room(key, staging)
        _sync(staging)  # the files are on disk before the rename makes them a run
        now = time.time_ns()  # ids sort in commit order: date, time, nanoseconds, then a random tail
        run_id = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now // 10**9))}.{now % 10**9:09d}-{uuid.uuid4().hex[:6]}"
        with self._lock:
            try:
                os.rename(staging, learner / run_id)
            except FileNotFoundError:  # the sweep (models.serving.sweep) removed the empty learner folder meanwhile
                learner.mkdir(parents=True, exist_ok=True)
                os.rename(staging, learner / run_id)
            self._listed.pop(key, None)
        _sync_folder(learner)
        self._prune_folder(key)
        return run_id

    def runs(self, token: str) -> tuple[list[TrainingRun], list[str]]:
        """The learner's runs, oldest first, and a notice for each saved run that could not be read.

        Cached until the learner's folder or one of its run folders changes, so a rerun costs a few stats.
        """
        key = self.learner_key(token)
        folder = self.root / "learners" / key
        try:
            stamp = hash((folder.stat().st_mtime_ns, *(entry.stat().st_mtime_ns for entry in os.scandir(folder))))
        except FileNotFoundError:
            return [], []
        with self._lock:
            cached = self._listed.get(key)
            if cached is not None and cached[0] == stamp:
                return list(cached[1]), list(cached[2])
        runs, notices = [], []
        for path in sorted(p for p in folder.iterdir() if p.is_dir()):
            try:
                runs.append(TrainingRun.read(path))
            except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
                notices.append(
                    f"A saved run ({path.name}) could not be read and is skipped: {type(error).__name__}: {error}."
                )
        with self._lock:
            self._listed[key] = (stamp, runs, notices)
            while len(self._listed) > LISTINGS_KEPT:
                self._listed.popitem(last=False)
        return list(runs), list(notices)

    def remove(self, token: str, run_id: str) -> None:
        """Delete one of the learner's runs; nothing happens for an id that is not theirs or already gone."""
        self._remove(self.learner_key(token), run_id)

    def _remove(self, key: str, run_id: str) -> None:
        if not RUN_ID.fullmatch(run_id):
            return
        trash = self.root / "staging" / f"removed-{uuid.uuid4().hex}"
        with self._lock:
            try:
                os.rename(self.root / "learners" / key / run_id, trash)
            except FileNotFoundError:  # removed meanwhile (another tab, or two jobs pruning at once)
                return
            self._listed.pop(key, None)
        shutil.rmtree(trash, ignore_errors=True)

    def prune(self, token: str) -> None:
        """Keep the learner's newest `max_runs` runs, none older than `max_age_days`."""
        self._prune_folder(self.learner_key(token))

    def prune_key(self, key: str) -> None:
        """`prune` for a learner's folder name (the sweep, models.serving.sweep, knows no tokens)."""
        self._prune_folder(key)

    def _prune_folder(self, key: str) -> None:
        folder = self.root / "learners" / key
        if not folder.is_dir():
            return
        entries = sorted(p for p in folder.iterdir() if p.is_dir())
        cutoff = time.time() - self.max_age_days * 86400
        for path in entries[: -self.max_runs] + [p for p in entries[-self.max_runs :] if _modified(p) < cutoff]:
            self._remove(key, path.name)

    def remove_old_staging(self) -> None:
        """Remove staging folders older than STAGING_MAX_AGE, and removed runs' leftovers (models.serving.sweep too)."""
        self._remove_old_staging()

    def _remove_old_staging(self) -> None:
        cutoff = time.time() - STAGING_MAX_AGE
        for path in (self.root / "staging").iterdir():
            if _modified(path) < cutoff or path.name.startswith("removed-"):
                shutil.rmtree(path, ignore_errors=True)


def _sync(folder: Path) -> None:
    """fsync every file of a run folder, then the folder itself (a power cut never leaves a run half written)."""
    for path in folder.iterdir():
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _modified(path: Path) -> float:
    """The time the folder was last changed (seconds since the epoch)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()
