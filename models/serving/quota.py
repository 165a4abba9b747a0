"""Disk quotas for the data folder, checked before every write: one per learner, one for the whole server.

A learner's bytes are their runs (learners/<key>/) and their datasets (datasets/<key>/); a run's files
hard-linked from a shared run count in full for each learner who holds them (the conservative count). The
server's bytes are every file under the data folder, each counted once however many names it has. Nothing is
cached: the folders are walked on each check (a class's data folder is a few thousand files, a few ms).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

LEARNER_QUOTA_ENV = "CNN_LAB_LEARNER_MB"
DISK_QUOTA_ENV = "CNN_LAB_DISK_MB"
LEARNER_QUOTA_MB = 800  # two runs of the largest builder model (model.keras 294 MB measured), or dozens of course CNNs
DISK_QUOTA_MB = 5_000  # the whole data folder: runs, datasets, shared runs, staging, the queue


class QuotaExceeded(ValueError):
    """A write would pass a quota; the message says whose and what to do."""


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.0f}"


def _files(folders: Iterable[Path]) -> Iterable[os.stat_result]:
    for folder in folders:
        for directory, _, names in os.walk(folder):
            for name in names:
                try:
                    yield os.stat(os.path.join(directory, name))
                except FileNotFoundError:  # removed meanwhile
                    continue


def folder_bytes(*folders: Path) -> int:
    """Every file's size under the folders (a file with several names counts once for each name)."""
    return sum(info.st_size for info in _files(folders))


def new_bytes(folder: Path) -> int:
    """The bytes a folder adds to the disk: its files that have no other name (not hard links to kept files)."""
    return sum(info.st_size for info in _files([folder]) if info.st_nlink <= 1)


def _megabytes_setting(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default * 2**20
    value = float(text)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of MB, got {text!r}")
    return int(value * 2**20)


class DiskQuota:
    """The per-learner and the server's byte limits for one data folder."""

    def __init__(self, root: Path, *, learner_bytes: int, total_bytes: int) -> None:
        if learner_bytes < 1 or total_bytes < 1:
            raise ValueError("quotas must be positive")
        self.root = Path(root)
        self.learner_bytes, self.total_bytes = learner_bytes, total_bytes

    @classmethod
    def from_environment(cls, root: Path, environ: Mapping[str, str] = os.environ) -> DiskQuota:
        return cls(
            root,
            learner_bytes=_megabytes_setting(environ, LEARNER_QUOTA_ENV, LEARNER_QUOTA_MB),
            total_bytes=_megabytes_setting(environ, DISK_QUOTA_ENV, DISK_QUOTA_MB),
        )

    def learner_usage(self, key: str) -> int:
        """The bytes of a learner's runs and datasets."""
        return folder_bytes(self.root / "learners" / key, self.root / "datasets" / key)

    def total_usage(self) -> int:
        """The bytes of the whole data folder, each file once."""
        seen: set[tuple[int, int]] = set()
        total = 0
        for info in _files([self.root]):
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
        return total

    def learner_room(self, key: str, adding: int) -> bool:
        """Whether the learner's files plus `adding` bytes fit their quota."""
        return self.learner_usage(key) + adding <= self.learner_bytes

    def check(self, key: str, adding: int, *, new_on_disk: int | None = None, what: str = "This") -> None:
        """QuotaExceeded if `adding` bytes more would pass the learner's quota, or `new_on_disk` (default:
        `adding`) the server's."""
        used = self.learner_usage(key)
        if used + adding > self.learner_bytes:
            raise QuotaExceeded(
                f"{what} was not saved: it needs {_megabytes(adding)} MB and your runs and datasets use "
                f"{_megabytes(used)} of your {_megabytes(self.learner_bytes)} MB. Delete a run on the Training page "
                "and try again."
            )
        total = self.total_usage()
        if total + (adding if new_on_disk is None else new_on_disk) > self.total_bytes:
            raise QuotaExceeded(
                f"{what} was not saved: the server's disk for runs is full ({_megabytes(total)} of "
                f"{_megabytes(self.total_bytes)} MB). Old runs are removed after a few days; ask your teacher, or "
                "delete a run on the Training page."
            )
