"""models.inputs.own_data: zips of class folders built here from real Fashion-MNIST images, and every hostile zip.

The preprocessing is checked against Predict's pipeline called independently (load_image then preprocess on the
same file bytes); the split against scikit-learn's stratified counts worked out by hand.
"""

from __future__ import annotations

import io
import os
import stat
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models.inputs import own_data as od
from models.inputs.images import load_image
from models.inputs.preprocess import preprocess
from tests.support.image_files import PER_CLASS, encoded, header_only_png, real_items, real_members, zip_of


@pytest.fixture(scope="module")
def members() -> dict[str, bytes]:
    return real_members()


def refused(data: bytes, *phrases: str) -> str:
    with pytest.raises(od.DatasetError) as caught:
        od.read_zip(data)
    message = str(caught.value)
    for phrase in phrases:
        assert phrase in message, message
    return message


def test_real_images_read_through_predicts_pipeline(members):
    dataset = od.read_zip(zip_of(members))
    assert dataset.class_names == ("Bag", "Sneaker", "Trouser")  # sorted by name
    assert dataset.counts == (PER_CLASS,) * 3 and dataset.images.shape == (60, 28, 28)
    assert dataset.images.dtype == np.uint8 and not dataset.skipped
    for pixels, label, name in zip(dataset.images, dataset.labels, dataset.files):
        assert name.split("/")[0] == dataset.class_names[label]
        expected = preprocess(load_image(members[name])).pixels  # Predict's own two calls, on the same bytes
        np.testing.assert_array_equal(pixels, expected)
    # dark-on-white files come out light on black, as the network was trained: the item's pixels are bright
    corners = dataset.images[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.mean() < 30 < dataset.images.mean()


def test_a_shared_top_folder_is_dropped_and_system_files_and_others_are_skipped_and_named(members):
    extra = {f"my-data/{k}": v for k, v in members.items()}
    extra |= {
        "my-data/__MACOSX/Bag/._00.png": b"junk",
        "my-data/Bag/.DS_Store": b"x",
        "my-data/Bag/notes.txt": b"hello",
        "my-data/Bag/broken.png": b"not a png at all",
        "my-data/Bag/blank.png": encoded(np.zeros((28, 28), np.uint8), "png"),
    }
    dataset = od.read_zip(zip_of(extra))
    assert dataset.class_names == ("Bag", "Sneaker", "Trouser") and dataset.counts == (PER_CLASS,) * 3
    text = " ".join(dataset.skipped)
    assert "'my-data/Bag/notes.txt'" in text and "Not PNG or JPEG" in text
    assert "Could not be read as images" in text and "'my-data/Bag/broken.png'" in text
    assert "nothing that stands out" in text and "'my-data/Bag/blank.png'" in text
    assert "system files" in text


def test_the_zip_written_back_reads_to_the_same_arrays(members):
    dataset = od.read_zip(zip_of(members))
    again = od.read_zip(od.to_zip(dataset))
    assert again.class_names == dataset.class_names
    np.testing.assert_array_equal(again.labels, dataset.labels)
    # a 28x28 light-on-black image passes Predict's pipeline unchanged only if it fills its box; compare to that
    for pixels, back in zip(dataset.images, again.images):
        np.testing.assert_array_equal(back, preprocess(pixels / np.float32(255.0)).pixels)
    assert od.load_npz(od.save_npz(dataset)).digest == dataset.digest


@pytest.mark.parametrize(
    ("labels", "validation", "sizes"),
    [
        ([0] * 20 + [1] * 20 + [2] * 20, 0.1, (43, 5, 12)),  # test ceil(0.2 x 60) = 12; round(0.1 x 48) = 5
        ([0] * 10 + [1] * 30, 0.0, (32, 0, 8)),
        ([0] * 10 + [1] * 10, 0.1, (14, 2, 4)),
    ],
)
def test_the_split_is_stratified_seeded_and_disjoint(labels, validation, sizes):
    labels = np.asarray(labels)
    parts = od.split(labels, validation, seed=3)
    assert (len(parts.fit), len(parts.validation), len(parts.test)) == sizes
    joined = np.concatenate([parts.fit, parts.validation, parts.test])
    assert sorted(joined.tolist()) == list(range(len(labels)))
    counts = np.bincount(labels)
    test_counts = np.bincount(labels[parts.test], minlength=len(counts))
    np.testing.assert_allclose(test_counts, counts * od.TEST_SHARE, atol=1)  # stratified: each class's share
    again = od.split(labels, validation, seed=3)
    np.testing.assert_array_equal(again.test, parts.test)
    assert not np.array_equal(od.split(labels, validation, seed=4).test, parts.test)


# ---------------------------------------------------------------- each problem, its message


def test_too_few_images_names_the_class_and_the_minimum(members):
    few = {k: v for k, v in members.items() if not k.startswith("Bag/") or int(k[4:6]) < 4}
    refused(zip_of(few), "'Bag' (4)", f"at least {od.MIN_PER_CLASS}")


def test_one_class_only(members):
    refused(zip_of({k: v for k, v in members.items() if k.startswith("Bag/")}), "only the class 'Bag'", "2 to 10")


def test_more_than_ten_classes(members):
    image = next(iter(members.values()))
    many = {f"class{c}/{i}.png": image for c in range(11) for i in range(od.MIN_PER_CLASS)}
    refused(zip_of(many), "11 class folders", "limit is 10")


def test_no_class_folders(members):
    refused(zip_of({f"{i}.png": v for i, v in enumerate(members.values())}), "no class folders")


def test_class_folders_clashing_by_case(members):
    clash = dict(members) | {f"bag/extra{i:02d}.png": members["Bag/00.png"] for i in range(od.MIN_PER_CLASS)}
    refused(zip_of(clash), "'Bag'", "'bag'", "apart from case")


def test_files_clashing_by_case(members):
    refused(zip_of(members | {"Bag/00.PNG": members["Bag/00.png"]}), "'Bag/00.png' and 'Bag/00.PNG'", "case")


def test_a_name_twice():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Bag/1.png", b"a")
        with pytest.warns(UserWarning):
            archive.writestr("Bag/1.png", b"b")
    refused(buffer.getvalue(), "'Bag/1.png' is in the zip twice")


def test_not_a_zip_and_empty():
    refused(b"", "empty")
    refused(b"hello, this is text", "not a readable zip")
    refused(encoded(real_items("Bag", 1)[0], "png"), "not a readable zip")


def test_all_files_unreadable_are_named(members):
    broken = {k: b"garbage" for k in members}
    message = refused(zip_of(broken), "Too few usable images", "Could not be read as images", "'Bag/00.png'")
    assert "more" in message  # the rest is counted, not listed


# ---------------------------------------------------------------- hostile zips


def zip_with_info(info: zipfile.ZipInfo, data: bytes, base: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in base.items():
            archive.writestr(name, value)
        archive.writestr(info, data)
    return buffer.getvalue()


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def encrypted_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose members carry the 'encrypted' flag (zipfile cannot write ZipCrypto; the flag is what is read)."""
    data = bytearray(zip_of(dict(list(members.items())[:2]), compression=zipfile.ZIP_STORED))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (at := data.find(signature, start)) != -1:
            data[at + flag_at] |= 0x1
            start = at + 4
    return bytes(data)


def lying_bomb(members: dict[str, bytes]) -> bytes:
    """A member whose directory says 100 bytes while it inflates to 50 MB of zeros, among real images."""
    data = bytearray(zip_of({"Bag/0.png": b"\0" * (50 * 2**20)} | members))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        central = archive.start_dir  # the first directory entry: Bag/0.png, written first
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")  # uncompressed size in the directory
    local = data.find(b"PK\x03\x04")
    data[local + 22 : local + 26] = (100).to_bytes(4, "little")
    return bytes(data)


HOSTILE = {
    "bomb by ratio": (lambda m: zip_of({"Bag/0.png": b"\0" * (5 * 2**20)} | m), ("zip bomb", "100x")),
    "bomb by total size": (
        lambda m: zip_of({f"Bag/{i}.png": b"\0" * (7 * 2**20) for i in range(30)}),
        ("unpacks to 210 MB", "limit is 200 MB"),
    ),
    "bomb lying about its size": (lying_bomb, ("'Bag/0.png'",)),
    "huge member": (lambda m: zip_of({"Bag/big.png": os.urandom(9 * 2**20)}), ("'Bag/big.png'", "at most 8 MB")),
    "dot-dot path": (lambda m: zip_of(m | {"../evil/x.png": b"x"}), ("'../evil/x.png'", "leaves the archive")),
    "nested dot-dot": (lambda m: zip_of(m | {"Bag/../../x.png": b"x"}), ("leaves the archive",)),
    "absolute path": (lambda m: zip_of(m | {"/etc/x.png": b"x"}), ("'/etc/x.png'", "absolute")),
    "windows absolute path": (lambda m: zip_of(m | {"C:\\x\\y.png": b"x"}), ("absolute",)),
    "backslash dot-dot": (lambda m: zip_of(m | {"..\\..\\x.png": b"x"}), ("leaves the archive",)),
    "symlink": (lambda m: zip_with_info(symlink_info("Bag/link.png"), b"/etc/passwd", m), ("symbolic link",)),
    "nested zip": (lambda m: zip_of(m | {"Bag/inner.zip": zip_of(m)}), ("'Bag/inner.zip'", "archive inside")),
    "zip named as an image": (lambda m: zip_of(m | {"Bag/inner.png": zip_of({"a": b"b"})}), ("named as an image",)),
    "encrypted": (encrypted_zip, ("encrypted",)),
    "too many files": (
        lambda m: zip_of({f"Bag/{i}.png": b"" for i in range(od.MAX_MEMBERS + 1)}),
        ("2,501 entries", "limit is 2,500"),
    ),
    "too many images": (
        lambda m: zip_of({f"c{i % 3}/{i}.png": m["Bag/00.png"] for i in range(od.MAX_IMAGES + 1)}),
        ("2,001 images", "limit is 2,000"),
    ),
    "control characters": (lambda m: zip_of(m | {"Bag/a\x07.png": b"x"}), ("control characters",)),
    "long class name": (lambda m: zip_of(m | {("x" * 50) + "/0.png": b"x"}), ("longer than 40",)),
}


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_zips_are_refused_with_their_message_and_write_nothing(case, members, tmp_path, monkeypatch):
    build, phrases = HOSTILE[case]
    data = build(members)
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    refused(data, *phrases)
    assert files_under(tmp_path) == before
    assert not Path("/etc/x.png").exists() and not (tmp_path.parent / "evil").exists()


def test_a_store_writes_only_inside_its_folder(members, tmp_path):
    dataset = od.read_zip(zip_of(members))
    store = od.DatasetStore(tmp_path / "data")
    path = store.save(tmp_path / "learners" / "abc", dataset)
    assert path == tmp_path / "data" / "datasets" / "abc" / f"{dataset.digest}.npz"
    assert {p.relative_to(tmp_path).as_posix() for p in files_under(tmp_path)} == {
        "data",
        "data/datasets",
        "data/datasets/abc",
        f"data/datasets/abc/{dataset.digest}.npz",
    }
    assert store.save(tmp_path / "learners" / "abc", dataset) == path  # the same data: the same file
    shipped = od.ship({"path": str(path)})
    np.testing.assert_array_equal(od.load_dataset(shipped).images, dataset.images)
    np.testing.assert_array_equal(od.load_dataset({"path": str(path)}).labels, dataset.labels)
    with pytest.raises(od.DatasetError, match="missing"):
        od.load_dataset({"path": str(tmp_path / "gone.npz")})


def test_the_limits_are_stated():
    text = od.limits_text()
    for number in ("2-10 class folders", f"at least {od.MIN_PER_CLASS}", "2,000 images", "25 MB", "20%", "16 mega"):
        assert number in text
    assert "12.5 MB" in od.limits_text(max_zip_bytes=25 * 2**19)


def test_the_zip_limit_is_the_servers_upload_limit():
    config = tomllib.loads((Path(__file__).parents[2] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == od.MAX_ZIP_BYTES
    with pytest.raises(od.DatasetError, match=r"the limit is 0.5 MB"):
        od.read_zip(b"x" * 2**20, max_bytes=2**19)


def test_declared_pixels_are_counted_before_any_image_is_decoded(members, monkeypatch):
    decoded = []
    monkeypatch.setattr(od, "to_pixels", lambda raw: decoded.append(raw) or np.zeros((28, 28), np.uint8))
    hostile = {f"{'ab'[i % 2]}/{i:04d}.png": header_only_png(4000, 4000) for i in range(20)}  # 16 MP each
    # class a (10 images) first, then b: the 17th image, b/0013.png, takes the sum past 256 MP
    refused(zip_of(hostile), "Refused, no image decoded", "Stopped at 'b/0013.png'", "4000x4000", "256,000,000")
    assert decoded == []


def test_an_image_declaring_too_many_pixels_is_left_out_by_name(members):
    dataset = od.read_zip(zip_of(members | {"Bag/huge.png": header_only_png(5000, 4000)}))
    assert "Bag/huge.png" not in dataset.files
    assert any("'Bag/huge.png' (4000x5000)" in note and "16,000,000 pixels" in note for note in dataset.skipped)


def test_a_multi_file_upload_is_limited_in_count_and_size():
    assert od.upload_problem([1000] * od.MAX_UPLOAD_FILES) is None
    assert "201 files at once; the limit is 200" in (od.upload_problem([1] * 201) or "")
    assert "at most 25 MB" in (od.upload_problem([20 * 2**20, 6 * 2**20]) or "")
