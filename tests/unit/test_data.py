import gzip
import shutil

import numpy as np
import pytest

from models.inputs import fashion_mnist as data
from models.inputs.fashion_mnist import CLASS_NAMES, DataError, load_fashion_mnist, read_idx, scale_images


def test_real_files_have_expected_sizes_and_balanced_classes(fashion):
    (x_train, y_train), (x_test, y_test) = fashion
    assert x_train.shape == (60_000, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (10_000, 28, 28) and y_test.shape == (10_000,)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert not x_train.flags.writeable  # safe to share between sessions


def test_first_training_item_is_an_ankle_boot(fashion):
    (x_train, y_train), _ = fashion
    assert CLASS_NAMES[y_train[0]] == "Ankle boot"
    assert 0 < x_train[0].mean() < 255


def test_scale_images_gives_model_input(fashion):
    (x_train, _), _ = fashion
    scaled = scale_images(x_train[:5])
    assert scaled.shape == (5, 28, 28, 1) and scaled.dtype == np.float32
    assert scaled.max() <= 1.0 and np.isclose(scaled[0, 10, 10, 0], x_train[0, 10, 10] / 255)


@pytest.fixture
def copy_dir(tmp_path, monkeypatch):
    """A writable copy of the real files, selected through FASHION_MNIST_DIR."""
    source = data.find_data_dir()
    for name in data.FILES.values():
        shutil.copy(source / name, tmp_path / name)
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    return tmp_path


def test_env_var_folder_is_searched_first(copy_dir):
    assert data.candidate_dirs()[0] == copy_dir
    assert data.find_data_dir() == copy_dir
    (_, y_train), _ = load_fashion_mnist()
    assert len(y_train) == 60_000


def test_truncated_file_names_path_and_fix(copy_dir):
    path = copy_dir / data.FILES["x_test"]
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError) as err:
        load_fashion_mnist()
    assert str(path) in str(err.value) and "dataset-fashion-mnist" in str(err.value)


def test_short_payload_is_reported(copy_dir):
    path = copy_dir / data.FILES["y_test"]
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_fashion_mnist()


def test_wrong_magic_number_is_reported(copy_dir):
    path = copy_dir / data.FILES["y_train"]
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[3] = 0x99
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="magic number"):
        read_idx(path, expected_shape=(60_000,))


def test_labels_file_in_place_of_images_is_refused(copy_dir):
    shutil.copy(copy_dir / data.FILES["y_test"], copy_dir / data.FILES["x_test"])
    with pytest.raises(DataError, match="shape"):
        load_fashion_mnist()


def test_missing_everywhere_names_searched_folders_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("HOME", str(tmp_path))

    monkeypatch.setattr(data, "KERAS_ORIGIN", "http://127.0.0.1:9/")  # nothing listens on the discard port
    with pytest.raises(DataError) as err:
        load_fashion_mnist()
    message = str(err.value)
    assert "nowhere" in message and "FASHION_MNIST_DIR" in message and "download failed" in message


def test_download_fallback_reads_where_keras_saved_the_files(tmp_path, monkeypatch):
    """Without a local copy the loader uses Keras's downloader and reads its cache, wherever KERAS_HOME puts it."""
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(data, "KERAS_ORIGIN", data.DEBIAN_DIR.as_uri() + "/")
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    import keras.utils

    real_get_file = keras.utils.get_file
    cache = tmp_path / "keras-home"  # e.g. $KERAS_HOME (Keras uses /tmp/.keras when the home folder is read-only)
    cache.mkdir()
    monkeypatch.setattr(keras.utils, "get_file", lambda *args, **kw: real_get_file(*args, cache_dir=str(cache), **kw))
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    assert x_train.shape == (60_000, 28, 28) and y_test.shape == (10_000,)
    assert (cache / "datasets" / "fashion-mnist" / data.FILES["x_test"]).is_file()
