"""Fighting overfitting: augmentation layers, dropout, L2 weight decay and early stopping in the recipe, the model,
its printed Keras code, the preview, the 'Fight overfitting' experiment and the comparison table's gaps.

Each option is checked against Keras written out here (a hand-built model, the layers called directly, the penalty
summed from the weights with NumPy, a cross-entropy from scikit-learn, the history Keras saved)."""

from dataclasses import replace

import keras
import numpy as np
import pytest
from keras import layers, regularizers
from sklearn.metrics import log_loss

from models.design.config import COURSE_CNN, ConfigError, plan
from models.design.keras_code import keras_code
from models.networks.augmentation import augmented_copies
from models.networks.train import train
from models.networks.zoo import build_cnn
from models.training.job_protocol import StopFlag
from models.training.recipes import PRESETS, RunSpec, TrainConfig, regularisation_text
from models.training.runs import comparison_rows, overfitting_gaps

ALL_AUGMENTATION = dict(augment_flip=True, augment_shift=True, augment_rotation=True, augment_zoom=True)
EVERYTHING = replace(COURSE_CNN, filters=8, dense_units=32, dropout=0.3, l2=1e-4, **ALL_AUGMENTATION)


def hand_written(l2: float, dropout: float, augment: bool) -> keras.Sequential:
    """The course CNN with 8 filters and dense 32, written out the way the keras-io examples read."""
    decay = regularizers.L2(l2) if l2 else None
    front = (
        [
            layers.RandomFlip("horizontal", name="flip"),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant", name="shift"),
            layers.RandomRotation(0.05, fill_mode="constant", name="rotation"),
            layers.RandomZoom(0.1, fill_mode="constant", name="zoom"),
        ]
        if augment
        else []
    )
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            *front,
            layers.Conv2D(8, 3, activation="relu", kernel_regularizer=decay, name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(8, 3, activation="relu", kernel_regularizer=decay, name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(32, activation="relu", kernel_regularizer=decay, name="dense"),
            *([layers.Dropout(dropout, name="dropout")] if dropout else []),
            layers.Dense(10, activation="softmax", kernel_regularizer=decay, name="output"),
        ]
    )


def same_layers(built: keras.Model, expected: keras.Model) -> None:
    """Layer by layer: the same type and the same Keras config (seeds aside), and the same parameter counts."""
    assert [type(layer) for layer in built.layers] == [type(layer) for layer in expected.layers]
    for mine, theirs in zip(built.layers, expected.layers):
        ours, reference = mine.get_config(), theirs.get_config()
        ours.pop("seed", None), reference.pop("seed", None)
        assert ours == reference, mine.name
        assert mine.count_params() == theirs.count_params(), mine.name
    assert built.count_params() == expected.count_params()


@pytest.mark.parametrize(
    "l2, dropout, augment",
    [(0.0, 0.0, False), (1e-4, 0.0, False), (0.0, 0.5, False), (0.0, 0.0, True), (1e-3, 0.3, True)],
    ids=["plain", "l2", "dropout", "augmentation", "everything"],
)
def test_build_cnn_builds_the_hand_written_model(l2, dropout, augment):
    config = replace(
        COURSE_CNN, filters=8, dense_units=32, dropout=dropout, l2=l2, **(ALL_AUGMENTATION if augment else {})
    )
    model, expected = build_cnn(config), hand_written(l2, dropout, augment)
    same_layers(model, expected)
    assert [stage.name for stage in plan(config)[1:]] == [layer.name for layer in model.layers]
    assert model.count_params() == 8 * 9 + 8 + 8 * 9 * 8 + 8 + 200 * 32 + 32 + 32 * 10 + 10  # augmentation: no weights


@pytest.mark.parametrize(
    "config",
    [EVERYTHING, replace(COURSE_CNN, augment_zoom=True), replace(COURSE_CNN, l2=1e-5, padding="same"), COURSE_CNN],
    ids=["everything", "zoom", "l2-same", "course"],
)
def test_the_printed_code_builds_the_model_the_job_trains(config):
    namespace: dict = {}
    exec(keras_code(config), namespace)  # noqa: S102  (our own generated code, as the notebook runs it)
    same_layers(namespace["model"], build_cnn(config))


def test_a_bad_l2_is_refused_with_a_clear_message():
    with pytest.raises(ConfigError, match=r"l2 must be in \[0, 0.1\], got -1"):
        plan(replace(COURSE_CNN, l2=-1))


def test_augmentation_changes_images_only_while_training(fashion):
    (x_train, _), _ = fashion
    images = (x_train[:16].astype(np.float32) / 255.0)[..., np.newaxis]
    model = build_cnn(EVERYTHING)
    for layer in model.layers[:4]:
        np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)
        assert not np.allclose(np.asarray(layer(images, training=True)), images), layer.name
    # At inference the whole model is the model without its augmentation layers, with the same weights.
    plain = build_cnn(
        replace(EVERYTHING, augment_flip=False, augment_shift=False, augment_rotation=False, augment_zoom=False)
    )
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(model.predict(images, verbose=0), plain.predict(images, verbose=0), rtol=1e-6)


def test_l2_adds_exactly_the_penalty_of_the_kernels(fashion):
    (x_train, y_train), _ = fashion
    model = build_cnn(replace(EVERYTHING, l2=1e-3))
    kernels = [layer.kernel.numpy().astype(np.float64) for layer in model.layers if hasattr(layer, "kernel")]
    assert len(kernels) == 4  # conv1, conv2, dense, output; biases are not decayed
    penalty = 1e-3 * sum(float(np.sum(kernel**2)) for kernel in kernels)
    assert float(sum(np.asarray(loss) for loss in model.losses)) == pytest.approx(penalty, rel=1e-5)
    # The loss Keras reports is the cross-entropy plus that penalty.
    model.compile(loss="sparse_categorical_crossentropy")
    images, labels = (x_train[:200].astype(np.float32) / 255.0)[..., np.newaxis], y_train[:200]
    reported = model.evaluate(images, labels, batch_size=200, verbose=0)
    probabilities = model.predict(images, verbose=0).astype(np.float64)
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # as Keras's cross-entropy does
    assert reported == pytest.approx(log_loss(labels, probabilities, labels=range(10)) + penalty, rel=1e-4)


@pytest.mark.training
def test_early_stopping_restores_the_best_epochs_weights(fashion):
    """Validation labels shuffled, so the validation loss rises as the model grows sure of itself: the run stops
    `patience` epochs after its best epoch, and the weights it keeps score that epoch's saved validation loss."""
    (x_train, y_train), _ = fashion
    rng = np.random.default_rng(0)
    validation = (x_train[300:400], rng.permutation(y_train[300:400]))
    model = build_cnn(replace(COURSE_CNN, filters=8, dense_units=32))
    recipe = TrainConfig(epochs=12, batch_size=32, learning_rate=3e-3, early_stopping=True, patience=2)
    result = train(model, (x_train[:300], y_train[:300]), recipe, validation_data=validation)
    val_loss = result.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert len(val_loss) == best + 1 + 2 < 12, val_loss  # stopped 2 epochs after the best one
    assert (
        result.stop_reason
        == f"early stopping after epoch {best + 3}: weights of epoch {best + 1} (lowest validation loss) restored"
    )
    images = (validation[0].astype(np.float32) / 255.0)[..., np.newaxis]
    probabilities = model.predict(images, verbose=0).astype(np.float64)
    probabilities /= probabilities.sum(axis=1, keepdims=True)  # as Keras's cross-entropy does
    assert log_loss(validation[1], probabilities, labels=range(10)) == pytest.approx(val_loss[best], rel=1e-4)
    assert log_loss(validation[1], probabilities, labels=range(10)) < val_loss[-1]


def test_early_stopping_needs_a_validation_split():
    run = RunSpec(recipe=TrainConfig(early_stopping=True), validation_split=0.0)
    with pytest.raises(ValueError, match="Early stopping watches the validation loss: it needs a validation split"):
        run.check()
    replace(run, validation_split=0.1).check()


def test_the_preview_runs_real_images_through_the_same_layers(fashion):
    (x_train, _), _ = fashion
    images = x_train[:8]
    copies = augmented_copies(images, ("flip",), 4, seed=3)
    assert copies.shape == (8, 4, 28, 28) and copies.dtype == np.float32
    original, mirrored = images / 255.0, images[:, :, ::-1] / 255.0
    for index in range(8):
        for copy in copies[index]:  # a horizontal flip: each copy is the image or its mirror, exactly
            assert np.allclose(copy, original[index]) or np.allclose(copy, mirrored[index])
    assert any(np.allclose(copy, mirrored[i]) for i in range(8) for copy in copies[i])
    shifted = augmented_copies(images, ("shift", "rotation", "zoom"), 4, seed=3)
    np.testing.assert_array_equal(shifted, augmented_copies(images, ("zoom", "shift", "rotation"), 4, seed=3))
    assert 0.0 <= shifted.min() and shifted.max() <= 1.0 and not np.allclose(shifted[:, 0], original)
    with pytest.raises(ValueError, match="Unknown augmentation 'blur'"):
        augmented_copies(images, ("blur",), 1)


def test_the_fight_overfitting_experiment_is_four_runs_written_out():
    base = RunSpec(recipe=TrainConfig(epochs=3, batch_size=64, learning_rate=2e-3, seed=7, early_stopping=True))
    runs = PRESETS["Fight overfitting"].runs(base)
    recipe = TrainConfig(epochs=8, batch_size=64, learning_rate=2e-3, seed=7, early_stopping=False)
    augmented = replace(COURSE_CNN, **ALL_AUGMENTATION)
    assert runs == [
        RunSpec(architecture=COURSE_CNN, recipe=recipe, train_images=10_000, validation_split=0.2),
        RunSpec(architecture=augmented, recipe=recipe, train_images=10_000, validation_split=0.2),
        RunSpec(
            architecture=replace(COURSE_CNN, dropout=0.5), recipe=recipe, train_images=10_000, validation_split=0.2
        ),
        RunSpec(architecture=replace(augmented, dropout=0.5), recipe=recipe, train_images=10_000, validation_split=0.2),
    ]
    assert list(PRESETS).index("Fight overfitting") == list(PRESETS).index("More epochs: overfitting") + 1
    assert [run.model_label() for run in runs] == [
        "course CNN",
        "CNN with flip+shift+rotation+zoom augmentation",
        "CNN with dropout 0.5",
        "CNN with flip+shift+rotation+zoom augmentation, dropout 0.5",
    ]
    for run in runs:
        run.check()
        assert RunSpec.from_payload(run.to_payload()) == run
        assert (run.fitted_images, run.validation_images) == (8_000, 2_000)


def test_the_gaps_are_training_minus_validation_accuracy():
    history = {
        "accuracy": [0.70, 0.80, 0.90, 0.95],
        "val_accuracy": [0.68, 0.76, 0.80, 0.79],
        "val_loss": [0.9, 0.6, 0.55, 0.7],
    }
    gaps = overfitting_gaps(history)
    assert gaps == {"gap": pytest.approx(0.16), "best epoch": 3, "gap at best": pytest.approx(0.10)}
    assert overfitting_gaps({"accuracy": [0.9]}) == {"gap": None, "best epoch": None, "gap at best": None}
    config = RunSpec(architecture=EVERYTHING, recipe=TrainConfig(early_stopping=True)).to_dict()
    assert regularisation_text(config) == "flip+shift+rotation+zoom, dropout 0.3, L2 0.0001, early stop (patience 2)"
    assert regularisation_text(RunSpec(architecture=None).to_dict()) == "none"


@pytest.mark.training
def test_the_worker_trains_a_tiny_real_run_with_every_option_on(tmp_path):
    from models.networks.worker import run_job
    from models.training.runs import TrainingRun

    run = RunSpec(
        architecture=EVERYTHING,
        recipe=TrainConfig(epochs=2, batch_size=64, early_stopping=True, patience=1),
        train_images=400,
        validation_split=0.25,
    )
    events: list[dict] = []
    run_job({"spec": run.to_payload(), "name": "everything"}, events.append, StopFlag(), tmp_path)
    assert events[-1]["type"] == "done", events[-3:]
    saved = TrainingRun.read(tmp_path)
    same_layers(saved.model, build_cnn(EVERYTHING))
    assert saved.config["architecture"] == EVERYTHING.to_dict() and saved.config["early_stopping"] is True
    assert len(saved.history["val_loss"]) in (1, 2) and 0.0 <= saved.test_accuracy <= 1.0
    (row,) = comparison_rows([saved])
    assert row["against overfitting"] == "flip+shift+rotation+zoom, dropout 0.3, L2 0.0001, early stop (patience 1)"
    history = saved.history
    assert row["gap"] == pytest.approx(history["accuracy"][-1] - history["val_accuracy"][-1])
