"""A learner's own images: a zip of class folders read into Fashion-MNIST-shaped arrays, safely (no TensorFlow).

    my-data.zip
        cat/1.png, cat/2.jpg, ...        one folder per class (2 to 10), named as the class
        dog/1.png, ...                   (or all of them inside one top folder)

Every image goes through Predict's pipeline (`models.inputs.preprocess.preprocess`: grayscale, crop to the item, pad to
a square, 28x28, invert a light background), so the network trains on what Predict would show it. The zip is
read member by member in memory, each read capped at its limit; nothing is extracted and nothing is written
except the dataset file a `DatasetStore` saves. Every refusal is a `DatasetError` whose message a page shows.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from models.inputs.images import ImageError, ImageTooLarge, PixelBudget, UploadTooLarge, load_image
from models.inputs.preprocess import Preprocessed, PreprocessError, preprocess
from models.serving.quota import DiskQuota
from models.training.job_protocol import write_atomically

# The limits, stated on the Training page as they are here.
MIN_CLASSES, MAX_CLASSES = 2, 10
MIN_PER_CLASS = 10  # at least 2 of each class are held out for the test
MAX_IMAGES = 2_000  # in the whole dataset
MAX_ZIP_BYTES = 25 * 2**20  # the uploaded file: the server's maxUploadSize (.streamlit/config.toml), which the
# pages pass down from Streamlit's config (a test checks the two agree)
MAX_UPLOAD_FILES = 200  # image files in one multi-file upload (the dataset builder's, per class)
MAX_MEMBERS = 2_500  # files and folders in the zip
MAX_MEMBER_BYTES = 8 * 2**20  # one image, unpacked
MAX_TOTAL_BYTES = 200 * 2**20  # everything unpacked
MAX_RATIO = 100  # unpacked / packed size of one member (images are already compressed: about 1)
RATIO_FLOOR = 64 * 2**10  # members smaller than this are not ratio-checked (tiny files compress oddly)
MAX_PIXELS = 16_000_000  # per image, declared by its header, before it is scaled down
MAX_UPLOAD_PIXELS = 256_000_000  # all the images of one zip or multi-file upload, declared (models.inputs.images)
MAX_NAME_CHARS = 40  # a class name
TEST_SHARE = 0.2  # held out for the test, stratified by class and seeded
SHIPPED_LIMIT_BYTES = 4 * 2**20  # a dataset file sent inside a Dask job (workers cannot read the server's disk)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar", ".keras")
JUNK = re.compile(r"(^|/)(__MACOSX|\.DS_Store|Thumbs\.db|desktop\.ini)(/|$)|(^|/)\._", re.IGNORECASE)
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!")
SHOWN_NAMES = 5  # file names quoted in one message


class DatasetError(ValueError):
    """The upload cannot be used as a dataset; the message says why and what to change."""


@dataclass(frozen=True, eq=False)
class OwnDataset:
    """Images as Fashion-MNIST stores them (uint8 (N, 28, 28), light item on black) with labels 0..classes-1."""

    name: str
    images: np.ndarray
    labels: np.ndarray  # int64 (N,)
    class_names: tuple[str, ...]
    files: tuple[str, ...]  # each image's name in the zip, e.g. "cat/1.png"
    skipped: tuple[str, ...] = ()  # what was left out and why, in words

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(int(c) for c in np.bincount(self.labels, minlength=len(self.class_names)))

    @property
    def digest(self) -> str:
        """16 hex digits of the images, labels and names: the same data always has the same id."""
        hashed = hashlib.sha256(self.images.tobytes())
        hashed.update(self.labels.astype(np.int64).tobytes())
        hashed.update("\n".join(self.class_names).encode())
        return hashed.hexdigest()[:16]


def limits_text(max_zip_bytes: int = MAX_ZIP_BYTES) -> str:
    """The limits in words, for the page (`max_zip_bytes`: the server's upload limit)."""
    return (
        f"{MIN_CLASSES}-{MAX_CLASSES} class folders, at least {MIN_PER_CLASS} images each, at most {MAX_IMAGES:,} "
        f"images in all; PNG or JPEG, at most {MAX_MEMBER_BYTES // 2**20} MB and {MAX_PIXELS / 1e6:g} megapixels "
        f"each, {MAX_UPLOAD_PIXELS / 1e6:g} megapixels in all; the zip at most "
        f"{_megabytes(max_zip_bytes)} MB and {MAX_MEMBERS:,} entries, {MAX_TOTAL_BYTES // 2**20} MB unpacked; "
        f"class names up to {MAX_NAME_CHARS} characters. {TEST_SHARE:.0%} of each class is held out for the test."
    )


def _megabytes(size: int) -> str:
    return f"{size / 2**20:g}"


def upload_problem(sizes: Sequence[int], max_bytes: int = MAX_ZIP_BYTES) -> str | None:
    """What is wrong with a multi-file upload of files of these sizes (count, total size), or None."""
    if len(sizes) > MAX_UPLOAD_FILES:
        return f"Nothing was added: {len(sizes):,} files at once; the limit is {MAX_UPLOAD_FILES:,} files an upload."
    if sum(sizes) > max_bytes:
        return (
            f"Nothing was added: the files are {sum(sizes) / 2**20:,.1f} MB together; one upload may be at most "
            f"{_megabytes(max_bytes)} MB. Upload them in smaller groups."
        )
    return None


def _quoted(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def _unsafe_path(name: str) -> str | None:
    """Why a member's name is refused, or None: absolute, a drive, '..', or control characters."""
    if "\x00" in name or any(unicodedata.category(c) == "Cc" for c in name):
        return "has control characters in its name"
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        return "is an absolute path"
    if ".." in PurePosixPath(normalised).parts:
        return "leaves the archive ('..' in its path)"
    return None


def _check_members(members: list[zipfile.ZipInfo]) -> None:
    """Refuse a hostile archive from its directory alone, before any member is unpacked."""
    if len(members) > MAX_MEMBERS:
        raise DatasetError(f"The zip has {len(members):,} entries; the limit is {MAX_MEMBERS:,}.")
    for info in members:
        if (why := _unsafe_path(info.filename)) is not None:
            raise DatasetError(f"Refused: {info.filename!r} {why}. Zip only the class folders.")
        if info.flag_bits & 0x1:
            raise DatasetError(f"Refused: {info.filename!r} is encrypted (password-protected). Zip it without one.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DatasetError(f"Refused: {info.filename!r} is a symbolic link. Zip the image files themselves.")
    files = [m for m in members if not m.is_dir()]
    total = sum(m.file_size for m in files)
    if total > MAX_TOTAL_BYTES:
        raise DatasetError(
            f"Refused: the zip unpacks to {total / 2**20:,.0f} MB; the limit is {MAX_TOTAL_BYTES // 2**20} MB."
        )
    for info in files:
        if info.file_size > MAX_MEMBER_BYTES:
            raise DatasetError(
                f"Refused: {info.filename!r} unpacks to {info.file_size / 2**20:,.1f} MB; one image may be at most "
                f"{MAX_MEMBER_BYTES // 2**20} MB."
            )
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise DatasetError(
                f"Refused: {info.filename!r} unpacks to {info.file_size / max(info.compress_size, 1):,.0f} times its "
                f"packed size (a zip bomb; images shrink little, the limit is {MAX_RATIO}x)."
            )
        if info.filename.lower().endswith(ARCHIVE_SUFFIXES):
            raise DatasetError(f"Refused: {info.filename!r} is an archive inside the zip. Zip the images directly.")
    seen: dict[str, str] = {}
    for info in files:
        folded = info.filename.replace("\\", "/").casefold()
        if folded in seen:
            same = seen[folded] == info.filename
            raise DatasetError(
                f"Refused: {info.filename!r} is in the zip twice."
                if same
                else f"Refused: {seen[folded]!r} and {info.filename!r} differ only in upper/lower case, so they "
                "would overwrite each other when unzipped on Windows or macOS. Rename one."
            )
        seen[folded] = info.filename


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member's bytes, never more than its limit even if the directory lies about its size."""
    try:
        with archive.open(info) as member:
            data = member.read(MAX_MEMBER_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
        raise DatasetError(f"Refused: {info.filename!r} is damaged inside the zip ({error}).") from None
    if len(data) > MAX_MEMBER_BYTES:
        raise DatasetError(f"Refused: {info.filename!r} unpacks to more than {MAX_MEMBER_BYTES // 2**20} MB.")
    return data


def _class_folders(paths: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(class folder, path) for each image path, after dropping one top folder they all share; paths not inside a
    class folder are returned apart."""
    parts = [PurePosixPath(p).parts for p in paths]
    tops = {p[0] for p in parts if len(p) > 1}
    if len(tops) == 1 and all(len(p) >= 3 for p in parts):
        parts = [p[1:] for p in parts]
    placed: list[tuple[str, str]] = []
    loose: list[str] = []
    for path, part in zip(paths, parts):
        if len(part) == 2:
            placed.append((part[0], path))
        else:
            loose.append(path)
    return placed, loose


def clean_class_name(folder: str) -> str:
    """A folder's name as a class name: spaces tidied; DatasetError if empty or too long."""
    name = " ".join(unicodedata.normalize("NFC", folder).split())
    if not name:
        raise DatasetError(f"The class folder {folder!r} has no name.")
    if len(name) > MAX_NAME_CHARS:
        raise DatasetError(f"The class name {name[:MAX_NAME_CHARS]!r}... is longer than {MAX_NAME_CHARS} characters.")
    return name


def prepare(data: bytes) -> Preprocessed:
    """One image file through Predict's pipeline, every step kept (`models.inputs.preprocess.preprocess` of the decoded
    picture, Predict's defaults). ImageError/PreprocessError."""
    return preprocess(load_image(data, max_pixels=MAX_PIXELS))


def to_pixels(data: bytes) -> np.ndarray:
    """One image file through Predict's pipeline: uint8 (28, 28), light on black. ImageError/PreprocessError."""
    return prepare(data).pixels


def too_few(class_names: Sequence[str], counts: Sequence[int]) -> str | None:
    """What is wrong when a class has fewer than MIN_PER_CLASS images (no full stop), or None."""
    few = [f"{name!r} ({count})" for name, count in zip(class_names, counts) if count < MIN_PER_CLASS]
    return f"Too few usable images in {', '.join(few)}: each class needs at least {MIN_PER_CLASS}" if few else None


def too_many(total: int, holder: str) -> str | None:
    """What is wrong when a dataset has more than MAX_IMAGES images ("The zip holds ..."), or None."""
    return f"{holder} {total:,} images; the limit is {MAX_IMAGES:,}." if total > MAX_IMAGES else None


def read_zip(data: bytes, name: str = "my images", *, max_bytes: int = MAX_ZIP_BYTES) -> OwnDataset:
    """The dataset in a zip of class folders; DatasetError (never another error) for anything unusable.

    Files that are not PNG/JPEG, that do not decode, that declare more than MAX_PIXELS, that hold no item, or that
    sit outside a class folder are skipped and named in `skipped`; everything hostile is refused as a whole. Every
    image's header is read before any image is decoded: a zip whose images declare more than MAX_UPLOAD_PIXELS in
    all is refused without decoding one. `max_bytes`: the server's upload limit.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise DatasetError("The file is empty. Upload a .zip of class folders.")
    if len(data) > max_bytes:
        raise DatasetError(f"The zip is {len(data) / 2**20:,.1f} MB; the limit is {_megabytes(max_bytes)} MB.")
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
            members = archive.infolist()
            _check_members(members)
            return _read_members(archive, [m for m in members if not m.is_dir()], name)
    except zipfile.BadZipFile as error:
        raise DatasetError(f"This is not a readable zip file ({error}). Upload a .zip of class folders.") from None
    except (NotImplementedError, EOFError, OSError, RuntimeError, ValueError, zlib.error) as error:
        if isinstance(error, DatasetError):
            raise
        raise DatasetError(f"The zip could not be read: {type(error).__name__}: {error}.") from None


def _read_members(archive: zipfile.ZipFile, files: list[zipfile.ZipInfo], name: str) -> OwnDataset:
    by_path, skipped = _image_files(files)
    placed, loose = _class_folders(list(by_path))
    if loose:
        skipped.append(f"Not inside a class folder, so left out: {_quoted(loose)}.")
    order = _class_order(placed)
    index = {folder: i for i, folder in enumerate(order)}
    headed = _check_headers(archive, by_path, sorted(placed, key=lambda fp: (index[fp[0]], fp[1].casefold())))
    pixels, labels, names = _decode_images(archive, by_path, headed, index, skipped)
    class_names = tuple(clean_class_name(f) for f in order)
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(order))
    if (few := too_few(class_names, [int(c) for c in counts])) is not None:
        raise DatasetError(
            few
            + (" (skipped files are named below)." if skipped else ".")
            + ("" if not skipped else " " + " ".join(skipped))
        )
    return OwnDataset(
        name=name,
        images=np.stack(pixels).astype(np.uint8),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=class_names,
        files=tuple(names),
        skipped=tuple(skipped),
    )


def _image_files(files: list[zipfile.ZipInfo]) -> tuple[dict[str, zipfile.ZipInfo], list[str]]:
    """The PNG/JPEG members by their path (forward slashes), and what was skipped: system files, other files."""
    skipped: list[str] = []
    junk = [m.filename for m in files if JUNK.search(m.filename)]
    files = [m for m in files if not JUNK.search(m.filename)]
    if junk:
        skipped.append(f"{len(junk)} system file{'s' * (len(junk) > 1)} ({_quoted(junk)}).")
    other = [m.filename for m in files if not m.filename.lower().endswith(IMAGE_SUFFIXES)]
    if other:
        skipped.append(f"Not PNG or JPEG, so left out: {_quoted(other)}.")
    images = [m for m in files if m.filename.lower().endswith(IMAGE_SUFFIXES)]
    return {m.filename.replace("\\", "/"): m for m in images}, skipped


def _class_order(placed: list[tuple[str, str]]) -> list[str]:
    """The class folders in the order of their cleaned names; DatasetError for two folders of one name, too few or
    too many classes, or too many images."""
    folders: dict[str, str] = {}  # casefolded class name -> folder
    for folder, _ in placed:
        cleaned = clean_class_name(folder)
        known = folders.setdefault(cleaned.casefold(), folder)
        if known != folder:
            raise DatasetError(
                f"The class folders {known!r} and {folder!r} have the same name apart from case or spaces. "
                "Merge or rename them."
            )
    if len(folders) < MIN_CLASSES:
        found = f"only the class {clean_class_name(next(iter(folders.values())))!r}" if folders else "no class folders"
        raise DatasetError(
            f"The zip holds {found}: a classifier needs {MIN_CLASSES} to {MAX_CLASSES} classes, one folder each "
            "(class_name/image.png)."
        )
    if len(folders) > MAX_CLASSES:
        raise DatasetError(f"The zip holds {len(folders)} class folders; the limit is {MAX_CLASSES}.")
    if (many := too_many(len(placed), "The zip holds")) is not None:
        raise DatasetError(many)
    return sorted(folders.values(), key=lambda f: (clean_class_name(f).casefold(), f))


def _decode_images(
    archive: zipfile.ZipFile,
    by_path: dict[str, zipfile.ZipInfo],
    headed: list[tuple[str, str | tuple[str, str]]],
    index: dict[str, int],
    skipped: list[str],
) -> tuple[list[np.ndarray], list[int], list[str]]:
    """Each image whose header passed, through Predict's preprocessing: (pixels, labels, paths); the images left
    out (too large, unreadable, empty) named on `skipped`."""
    pixels, labels, names = [], [], []
    unreadable: list[str] = []
    empty: list[str] = []
    too_large: list[str] = []
    for folder, path in headed:
        if isinstance(path, tuple):  # (path, why): its header was unreadable or declared too many pixels
            (too_large if path[1] else unreadable).append(path[1] or path[0])
            continue
        raw = _read(archive, by_path[path])
        try:
            pixels.append(to_pixels(raw))
        except ImageError:
            unreadable.append(path)
            continue
        except PreprocessError:
            empty.append(path)
            continue
        labels.append(index[folder])
        names.append(path)
    if too_large:
        skipped.append(f"Declare more than {MAX_PIXELS:,} pixels each, so left out: {_quoted(too_large)}.")
    if unreadable:
        skipped.append(f"Could not be read as images, so left out: {_quoted(unreadable)}.")
    if empty:
        skipped.append(f"Hold nothing that stands out from the background, so left out: {_quoted(empty)}.")
    return pixels, labels, names


def _check_headers(
    archive: zipfile.ZipFile, by_path: dict[str, zipfile.ZipInfo], placed: list[tuple[str, str]]
) -> list[tuple[str, str | tuple[str, str]]]:
    """The first pass over the images: each unpacked (within its limits) and its header read, nothing decoded.
    DatasetError when the unpacked bytes pass MAX_TOTAL_BYTES, an image is an archive, or the declared pixels
    pass MAX_UPLOAD_PIXELS; each (folder, path), or (folder, (path, "")) for an unreadable header and
    (folder, (path, "'path' (HxW)")) for an image above MAX_PIXELS."""
    budget = PixelBudget(MAX_PIXELS, MAX_UPLOAD_PIXELS)
    checked: list[tuple[str, str | tuple[str, str]]] = []
    unpacked = 0
    for folder, path in placed:
        raw = _read(archive, by_path[path])
        unpacked += len(raw)
        if unpacked > MAX_TOTAL_BYTES:  # the directory said less: it lied
            raise DatasetError(f"Refused: the zip unpacks to more than {MAX_TOTAL_BYTES // 2**20} MB.")
        if raw.startswith(ZIP_MAGIC):
            raise DatasetError(f"Refused: {path!r} is an archive inside the zip, named as an image.")
        try:
            budget.charge(repr(path), raw)
        except UploadTooLarge as error:
            raise DatasetError(f"Refused, no image decoded: {error}") from None
        except ImageTooLarge as error:
            checked.append((folder, (path, f"{path!r} ({error.size[1]}x{error.size[0]})")))
            continue
        except ImageError:
            checked.append((folder, (path, "")))
            continue
        checked.append((folder, path))
    return checked


# ---------------------------------------------------------------- a dataset built on the page, one example at a time

FORBIDDEN_NAME_CHARACTERS = '/\\:*?"<>|'  # a class name becomes a folder name in the zip, on any system


def class_name_problems(names: Sequence[str]) -> list[str]:
    """What is wrong with the class names a learner typed, in words (an empty list: nothing). Each name must be
    what `read_zip` would read back as that class from the zip `to_zip` writes: tidied as a folder's name
    (`clean_class_name`), a safe folder name there, not a system folder the reader skips, distinct apart from case."""
    problems: list[str] = []
    if not MIN_CLASSES <= len(names) <= MAX_CLASSES:
        problems.append(f"Name {MIN_CLASSES} to {MAX_CLASSES} classes, not {len(names)}.")
    seen: dict[str, int] = {}
    for number, typed in enumerate(names, start=1):
        name = " ".join(unicodedata.normalize("NFC", typed).split())
        folder = f"{name}/0000.png"
        if not name:
            problems.append(f"Class {number} has no name: type one.")
        elif len(name) > MAX_NAME_CHARS:
            problems.append(f"Class {number}'s name is {len(name)} characters long; the limit is {MAX_NAME_CHARS}.")
        elif any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
            problems.append(f"Class {number}'s name holds a control character: type it again without.")
        elif bad := sorted({c for c in name if c in FORBIDDEN_NAME_CHARACTERS}):
            problems.append(
                f"{name!r} holds {' '.join(bad)}: a class name becomes a folder name in the zip, so it may not "
                f"hold any of {' '.join(FORBIDDEN_NAME_CHARACTERS)}."
            )
        elif _unsafe_path(folder) is not None or set(name) == {"."} or JUNK.search(folder):
            problems.append(f"{name!r} cannot be a folder name in the zip (a system or hidden name): choose another.")
        elif (first := seen.setdefault(name.casefold(), number)) != number:
            problems.append(f"Classes {first} and {number} are both named {name!r} (apart from case): name each once.")
    return problems


def from_examples(class_names: Sequence[str], examples: Sequence[Sequence[np.ndarray]], name: str) -> OwnDataset:
    """The dataset of examples made on the page, one list of uint8 (28, 28) images (already through Predict's
    pipeline) per class; DatasetError for anything `read_zip` would refuse, with its limits and messages. Classes
    are ordered as `read_zip` orders a zip's folders (by name, ignoring case), so the zip `to_zip` writes reads back
    with the same labels."""
    if problems := class_name_problems(class_names):
        raise DatasetError(" ".join(problems))
    if len(examples) != len(class_names):
        raise DatasetError(f"{len(class_names)} class names but {len(examples)} lists of examples.")
    for images in examples:
        for image in images:
            if np.asarray(image).shape != (28, 28) or np.asarray(image).dtype != np.uint8:
                raise DatasetError(
                    f"An example is {np.asarray(image).dtype} {np.asarray(image).shape}, not uint8 28x28."
                )
    names = [" ".join(unicodedata.normalize("NFC", n).split()) for n in class_names]
    if (many := too_many(sum(len(images) for images in examples), "The dataset holds")) is not None:
        raise DatasetError(many)
    order = sorted(range(len(names)), key=lambda i: (names[i].casefold(), names[i]))
    ordered = tuple(names[i] for i in order)
    if (few := too_few(ordered, [len(examples[i]) for i in order])) is not None:
        raise DatasetError(few + ".")
    pixels = [np.asarray(image) for i in order for image in examples[i]]
    labels = [label for label, i in enumerate(order) for _ in examples[i]]
    files = [f"{names[i]}/{number:04d}.png" for i in order for number in range(len(examples[i]))]
    return OwnDataset(
        name=name,
        images=np.stack(pixels).astype(np.uint8),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=ordered,
        files=tuple(files),
    )


def to_zip(dataset: OwnDataset) -> bytes:
    """The dataset as a zip of class folders of 28x28 PNGs (as trained on); reading it back gives the same arrays."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (pixels, label) in enumerate(zip(dataset.images, dataset.labels)):
            png = io.BytesIO()
            Image.fromarray(pixels).save(png, format="PNG")
            archive.writestr(f"{dataset.class_names[label]}/{number:04d}.png", png.getvalue())
    return buffer.getvalue()


# ---------------------------------------------------------------- the split


@dataclass(frozen=True)
class Split:
    """Indices into the dataset: fitted, validation and test, each stratified by class and seeded."""

    fit: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    @property
    def train_images(self) -> int:
        """Fitted plus validation images (RunSpec.train_images)."""
        return len(self.fit) + len(self.validation)


def test_count(total: int) -> int:
    """Images held out for the test: ceil(TEST_SHARE x total), as scikit-learn's train_test_split rounds."""
    return math.ceil(TEST_SHARE * total)


def split(labels: np.ndarray, validation_split: float, seed: int) -> Split:
    """TEST_SHARE of the images held out for the test, then round(validation_split x the rest) for validation,
    both stratified by class (scikit-learn's train_test_split) and seeded; validation falls back to an unstratified
    draw when it is smaller than the class count."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    everything = np.arange(len(labels))
    pool, test = train_test_split(everything, test_size=test_count(len(labels)), stratify=labels, random_state=seed)
    held = round(validation_split * len(pool))
    if held == 0:
        return Split(np.sort(pool), np.empty(0, np.int64), np.sort(test))
    classes = len(np.unique(labels[pool]))
    stratify = labels[pool] if classes <= held <= len(pool) - classes else None
    fit, validation = train_test_split(pool, test_size=held, stratify=stratify, random_state=seed)
    return Split(fit, validation, np.sort(test))


def held_out_test(labels: np.ndarray, seed: int) -> np.ndarray:
    """The test indices `split` holds out with this seed, sorted: the images a run trained on these labels is judged
    on (they do not depend on the validation split, which is drawn from the rest)."""
    return split(labels, 0.0, seed).test


# ---------------------------------------------------------------- storage, per learner like the runs


def save_npz(dataset: OwnDataset) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        images=dataset.images,
        labels=dataset.labels,
        class_names=np.asarray(dataset.class_names, dtype=str),
        files=np.asarray(dataset.files, dtype=str),
        name=np.asarray(dataset.name, dtype=str),
    )
    return buffer.getvalue()


def load_npz(data: bytes) -> OwnDataset:
    """A dataset written by `save_npz` (no pickles); DatasetError if damaged."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            return OwnDataset(
                name=str(saved["name"]),
                images=saved["images"].astype(np.uint8),
                labels=saved["labels"].astype(np.int64),
                class_names=tuple(str(n) for n in saved["class_names"]),
                files=tuple(str(n) for n in saved["files"]),
            )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise DatasetError(f"The saved dataset could not be read: {type(error).__name__}: {error}.") from None


class DatasetStore:
    """Datasets learners uploaded, under the data folder: datasets/<learner folder name>/<digest>.npz.

    A dataset is named by its content, so uploading it again reuses the file; a training job's payload names
    the file, and a Dask job carries its bytes instead (`ship`).
    """

    def __init__(self, root: Path, quota: DiskQuota | None = None) -> None:
        self.root = Path(root) / "datasets"
        self.quota = quota

    def save(self, learner_folder: Path, dataset: OwnDataset) -> Path:
        """The dataset's file, written unless it is there; QuotaExceeded (nothing written) over a disk quota."""
        folder = self.root / learner_folder.name
        path = folder / f"{dataset.digest}.npz"
        if not path.is_file():
            data = save_npz(dataset)
            if self.quota is not None:
                self.quota.check(learner_folder.name, len(data), what="The dataset")
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(path, data)
        else:
            os.utime(path)  # in use again: the sweep (models.serving.sweep) counts its age from now
        return path


def load_dataset(reference: dict) -> OwnDataset:
    """The dataset a job's payload names: {"npz": base64 bytes} (sent to a Dask worker) or {"path": file}."""
    if "npz" in reference:
        return load_npz(base64.b64decode(reference["npz"]))
    path = Path(str(reference["path"]))
    if path.suffix != ".npz" or not path.is_file():
        raise DatasetError(f"The dataset file {path} is missing; upload the zip again.")
    return load_npz(path.read_bytes())


def ship(reference: dict) -> dict:
    """The reference with the file's bytes inside, for a worker on another machine; DatasetError over the limit."""
    if "npz" in reference:
        return reference
    data = Path(str(reference["path"])).read_bytes()
    if len(data) > SHIPPED_LIMIT_BYTES:
        raise DatasetError(
            f"The dataset is {len(data) / 2**20:.1f} MB; a job sent to the cluster carries at most "
            f"{SHIPPED_LIMIT_BYTES // 2**20} MB."
        )
    return {**reference, "npz": base64.b64encode(data).decode("ascii")}
