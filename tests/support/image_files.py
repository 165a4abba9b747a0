"""Learners' image files built here: real Fashion-MNIST items as PNG/JPEG files and zips of class folders, and a
PNG that only declares its size (for the pixel limits)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image

from models.inputs.fashion_mnist import CLASS_NAMES, load_fashion_mnist

CLASSES = ("Sneaker", "Bag", "Trouser")
PER_CLASS = 20


def real_items(class_name: str, count: int = PER_CLASS) -> np.ndarray:
    (_, _), (x_test, y_test) = load_fashion_mnist()
    return x_test[np.flatnonzero(y_test == CLASS_NAMES.index(class_name))[:count]]


def encoded(pixels: np.ndarray, kind: str) -> bytes:
    """A Fashion-MNIST item as a learner's file: dark item on white (so auto-invert applies), PNG or JPEG."""
    image = Image.fromarray(255 - pixels).resize((84, 84), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG" if kind == "jpg" else "PNG", quality=92)
    return buffer.getvalue()


def zip_of(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def real_members(top: str = "", per_class: int = PER_CLASS) -> dict[str, bytes]:
    members = {}
    for name in CLASSES:
        for i, item in enumerate(real_items(name, per_class)):
            kind = "jpg" if i % 2 else "png"
            members[f"{top}{name}/{i:02d}.{kind}"] = encoded(item, kind)
    return members


def header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (8-bit gray) and whose data is a stub: decoding it would fail."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    stub = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + stub + chunk(b"IEND", b"")
