import json
import threading

import keras
import numpy as np
import pytest

from models.inputs.fashion_mnist import scale_images
from models.networks import train as train_module
from models.networks.train import TrainConfig, evaluate, make_dataset, train
from models.networks.zoo import course_cnn, course_dnn


@pytest.fixture(scope="module")
def small(fashion):
    """The first 1,024 real training images and 512 real test images."""
    (x_train, y_train), (x_test, y_test) = fashion
    return (x_train[:1024], y_train[:1024]), (x_test[:512], y_test[:512])


def test_dataset_scales_to_float32_like_scale_images(small):
    (x, y), _ = small
    images, labels = next(iter(make_dataset(x, y, batch_size=64, shuffle=False)))
    assert images.shape == (64, 28, 28, 1) and images.dtype.name == "float32"
    np.testing.assert_allclose(images.numpy(), scale_images(x[:64]), rtol=1e-6)
    assert labels.numpy().tolist() == y[:64].tolist()


def test_shuffled_dataset_covers_every_image_once(small):
    (x, y), _ = small
    labels = np.concatenate([b[1].numpy() for b in make_dataset(x, y, batch_size=100, shuffle=True, seed=3)])
    assert sorted(labels.tolist()) == sorted(y.tolist()) and labels.tolist() != y.tolist()


@pytest.mark.training
def test_progress_hooks_see_every_batch_and_epoch(small):
    batches, epochs = [], []
    result = train(
        course_dnn(),
        small[0],
        TrainConfig(epochs=2, batch_size=128),
        validation_data=small[1],
        on_batch=lambda e, b, logs: batches.append((e, b, logs["loss"])),
        on_epoch=lambda e, logs: epochs.append((e, logs)),
    )
    assert [(e, b) for e, b, _ in batches] == [(e, b) for e in range(2) for b in range(8)]
    assert [e for e, _ in epochs] == [0, 1] and "val_accuracy" in epochs[-1][1]
    assert result.epochs_run == 2 and result.stop_reason is None
    assert result.history["loss"][1] < result.history["loss"][0]


@pytest.mark.training
def test_stop_flag_ends_training_after_the_current_batch(small):
    stop = threading.Event()
    seen = []

    def on_batch(epoch, batch, logs):
        seen.append(batch)
        if batch == 2:
            stop.set()

    result = train(course_dnn(), small[0], TrainConfig(epochs=5, batch_size=32), on_batch=on_batch, stop_event=stop)
    assert seen == [0, 1, 2] and result.epochs_run == 1
    assert result.stop_reason == "stopped by request"


@pytest.mark.training
def test_stop_at_accuracy_ends_after_the_epoch_that_reaches_it(small):
    result = train(course_dnn(), small[0], TrainConfig(epochs=4, batch_size=64, stop_at_accuracy=0.2))
    assert result.epochs_run == 1 and result.history["accuracy"][0] >= 0.2
    assert "reached 0.2000" in result.stop_reason


@pytest.mark.training
def test_one_short_epoch_of_the_course_cnn_learns_something(small):
    model = course_cnn()
    train(model, small[0], TrainConfig(epochs=1, batch_size=32))
    assert evaluate(model, *small[1])["accuracy"] > 0.5  # chance is 0.1


def test_unknown_optimizer_is_refused(small):
    with pytest.raises(ValueError, match="Unknown optimizer"):
        train(course_dnn(), small[0], TrainConfig(optimizer="magic"))


def test_cli_writes_model_card_and_filter_snapshots(tmp_path, capsys):
    output = tmp_path / "cnn.keras"
    assert (
        train_module.main(["--epochs", "2", "--train-size", "512", "--batch-size", "64", "--output", str(output)]) == 0
    )
    card = json.loads(output.with_suffix(".json").read_text())
    assert card["epochs"] == 2 and card["train_images"] == 512 and card["parameters"] == 243_786
    assert 0.0 < card["test_accuracy"] <= 1.0 and set(card["versions"]) >= {"tensorflow", "keras"}
    kernels = np.load(output.with_suffix(".filters.npz"))["conv1_kernels"]
    assert kernels.shape == (3, 3, 3, 1, 64) and not np.allclose(kernels[0], kernels[-1])
    assert "epoch 2/2" in capsys.readouterr().err


def test_cli_trains_the_dense_baseline_with_the_same_recipe(tmp_path):
    output = tmp_path / "dense.keras"
    argv = ["--model", "dense", "--epochs", "1", "--train-size", "512", "--batch-size", "64", "--output", str(output)]
    assert train_module.main(argv) == 0
    card = json.loads(output.with_suffix(".json").read_text())
    assert card["model"] == "course_dnn" and card["parameters"] == 101_770 and card["train_images"] == 512
    assert card["command"] == "python -m models.networks.train " + " ".join(argv)
    assert "flatten (Flatten)" in card["summary"] and "Total params" in card["summary"]
    assert not output.with_suffix(".filters.npz").exists()  # a dense network has no filters
    assert keras.models.load_model(output, safe_mode=True).count_params() == 101_770
