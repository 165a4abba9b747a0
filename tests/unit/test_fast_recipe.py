"""The Training page's 'Fast' preset: its spec, its one-cycle learning rate, and a short real run of its job."""

import json
from dataclasses import replace

import keras
import numpy as np
import pytest

from models.design.config import CNNConfig
from models.networks.train import make_dataset, train
from models.networks.worker import build_model, run_job, schedule_callbacks
from models.training.job_protocol import MODEL_FILE, RUN_FILE, StopFlag
from models.training.recipes import PRESETS, RunSpec, TrainConfig, one_cycle_rates

FAST = PRESETS["Fast"]


def fast_run(seed: int = 7) -> RunSpec:
    (run,) = FAST.runs(RunSpec(recipe=TrainConfig(epochs=9, batch_size=32, learning_rate=5e-4, seed=seed)))
    return run


def test_fast_preset_spec_written_out():
    run = fast_run()
    assert run == RunSpec(
        architecture=CNNConfig(
            conv_blocks=2, filters=16, kernel_size=3, padding="same", pooling="max", pool_size=2, dense_units=128
        ),
        hand_picked=False,
        recipe=TrainConfig(epochs=4, batch_size=256, learning_rate=0.02, optimizer="adam", seed=7),
        train_images=60_000,
        validation_split=0.0,
        lr_decay=1.0,
        one_cycle=True,
        preset="Fast recipe",
    )
    run.check(60_000)
    assert RunSpec.from_payload(json.loads(json.dumps(run.to_payload()))) == run
    assert run.to_dict()["one_cycle"] is True and run.steps_per_epoch() == 235
    assert run.title() == "Fast recipe: CNN with 16 filters, same padding, 4 epochs"
    for words in ("16 filters", "'same' padding", "batch 256", "0.02", "first 20%", "60,000 images", "4 epochs"):
        assert words in FAST.description


def multiply_adds(model: keras.Model) -> int:
    """Per image, from the built Keras layers: Conv2D = output pixels x filters x kernel area x input channels."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, filters = layer.output.shape
            total += height * width * filters * int(np.prod(layer.kernel.shape[:3]))
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def test_the_description_states_the_models_cost():
    from models.networks.zoo import course_cnn

    fast, course = multiply_adds(build_model(fast_run())), multiply_adds(course_cnn())
    assert f"{fast / 1e6:.2f} M" in FAST.description and f"{course / 1e6:.2f} M" in FAST.description
    assert (fast, course) == (666_112, 5_056_000)


def test_one_cycle_rates_written_out():
    # 10 steps, 20% climb = 2 steps: up to the peak in 2 steps, then down over the other 8 to peak / 8.
    expected = [0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125]
    np.testing.assert_allclose(one_cycle_rates(10, 1.0), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(one_cycle_rates(10, 0.01), np.asarray(expected) * 0.01, rtol=1e-15)
    assert one_cycle_rates(1, 0.02).tolist() == [0.02]
    with pytest.raises(ValueError, match="at least 1 step"):
        one_cycle_rates(0, 0.01)
    with pytest.raises(ValueError, match=r"warm-up in \(0, 1\)"):
        one_cycle_rates(10, 0.01, warmup=1.0)


def test_a_per_epoch_decay_and_one_cycle_together_are_refused():
    with pytest.raises(ValueError, match="one learning-rate schedule"):
        replace(fast_run(), lr_decay=0.5).check(60_000)


@pytest.mark.training
def test_one_cycle_sets_each_batchs_rate_across_epochs(fashion):
    """The job's path (build_model + train + schedule_callbacks): the optimizer's rate at every batch of
    2 epochs x 3 batches of 64 real images."""
    (x_train, y_train), _ = fashion
    spec = replace(
        fast_run(seed=3), recipe=TrainConfig(epochs=2, batch_size=64, learning_rate=0.01, seed=3), train_images=192
    )
    seen: list[float] = []

    class Rates(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate))

    train(
        build_model(spec), (x_train[:192], y_train[:192]), spec.recipe, callbacks=[*schedule_callbacks(spec), Rates()]
    )
    # 6 steps: a climb of round(0.2 x 6) = 1 step to the peak, then 5 steps down to 0.01 / 5
    np.testing.assert_allclose(seen, [0.01, 0.01, 0.008, 0.006, 0.004, 0.002], rtol=1e-6)


@pytest.mark.training
def test_one_cycle_training_takes_the_same_steps_as_a_hand_written_adam_loop(fashion):
    """The job's path against tf.GradientTape with Adam, each step's rate written out by hand: 6 batches of 64
    real images (one epoch: a second epoch's shuffle is Keras's own)."""
    import tensorflow as tf

    (x_train, y_train), _ = fashion
    images, labels = x_train[:384], y_train[:384]
    spec = replace(
        fast_run(seed=3), recipe=TrainConfig(epochs=1, batch_size=64, learning_rate=0.01, seed=3), train_images=384
    )
    fitted = build_model(spec)
    train(fitted, (images, labels), spec.recipe, callbacks=schedule_callbacks(spec))

    model = build_model(spec)  # the same initial weights (seeded by the recipe)
    keras.utils.set_random_seed(3)
    optimizer = keras.optimizers.Adam(learning_rate=1.0)
    loss = keras.losses.SparseCategoricalCrossentropy()
    rates = iter([0.01, 0.01, 0.008, 0.006, 0.004, 0.002])
    for x, y in make_dataset(images, labels, batch_size=64, shuffle=True, seed=3):
        optimizer.learning_rate = next(rates)
        with tf.GradientTape() as tape:
            value = loss(y, model(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(value, model.trainable_variables), model.trainable_variables))
    assert next(rates, None) is None
    for ours, theirs in zip(fitted.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    unscheduled = build_model(spec)  # the schedule matters: a constant 0.01 ends elsewhere
    train(unscheduled, (images, labels), spec.recipe)
    assert not np.allclose(unscheduled.get_weights()[0], fitted.get_weights()[0], atol=1e-4)


@pytest.mark.training
def test_the_fast_job_runs_on_a_small_subset(tmp_path):
    """models.networks.worker.run_job, the code a Training-page job runs, on the preset's spec cut to 512 images, 2
    epochs."""
    spec = replace(fast_run(), train_images=512, recipe=replace(fast_run().recipe, epochs=2))
    events: list[dict] = []
    run_job({"spec": spec.to_payload(), "name": "fast"}, events.append, StopFlag(), tmp_path)
    record = json.loads((tmp_path / RUN_FILE).read_text())
    assert events[-1] == {"type": "done", "stop_reason": None}
    assert record["config"]["one_cycle"] is True and record["config"]["batch_size"] == 256
    assert record["config"]["parameters"] == 16 * 9 + 16 + 16 * 16 * 9 + 16 + 7 * 7 * 16 * 128 + 128 + 128 * 10 + 10
    assert record["epochs_done"] == 2 and 0.1 < record["test_accuracy"] <= 1.0
    model = keras.models.load_model(tmp_path / MODEL_FILE, safe_mode=True)
    # the last of 2 x 2 steps: a climb of round(0.8) = 1 step, then 3 down to 0.02 / 3
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02 / 3)


@pytest.mark.training
def test_the_training_pages_fast_button_queues_the_preset_with_the_pages_seed(fresh_runs):
    from components.framework.session_keys import TRAINING_SEED, training_cancel, training_stop
    from tests.app.test_training_page import click, jobs, open_page

    app = open_page()
    app.number_input(key=TRAINING_SEED).set_value(4).run()
    click(app, "Fast")
    assert any(caption.value == FAST.description for caption in app.caption)
    (job,) = jobs(app)
    assert job.spec == fast_run(seed=4)
    # Stop if it began training by this rerun, Cancel if it still waits (a busy machine)
    next(b for b in app.button if b.key in (training_stop(job.id), training_cancel(job.id))).click().run()
    assert job.wait(120)
