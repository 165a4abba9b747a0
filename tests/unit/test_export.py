"""models.training.export: the notebook a run or a design downloads, and `python -m models.training.export`.

Checked against what the lab itself builds and trains: models.networks.zoo's models, models.networks.worker's
build_model and run_job, models.networks.train's train/evaluate; the executed notebook (nbclient, a real ipykernel)
against the app's run.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import nbformat
import numpy as np
import pytest

from models.design.config import COURSE_CNN
from models.design.keras_code import keras_code
from models.inputs import own_data as od
from models.training.export import TOLERANCE, architecture, main, notebook, notebook_text, parser
from models.training.job_protocol import StopFlag
from models.training.recipes import FAST_ARCHITECTURE, RunSpec, TrainConfig, hand_picked_kernels
from models.training.runs import TrainingRun
from tests.support.apptest import plotly_array
from tests.support.browser import ROOT

DESIGN = replace(COURSE_CNN, conv_blocks=1, filters=16, kernel_size=5, padding="same", pooling="avg", dropout=0.25)
HAND_PICKED = RunSpec(replace(COURSE_CNN, filters=len(hand_picked_kernels()[0])), hand_picked=True, train_images=500)
FAST_LIKE = RunSpec(  # the Fast preset's kind of run: no validation, a learning rate shrinking every epoch
    FAST_ARCHITECTURE, recipe=TrainConfig(epochs=2, batch_size=128, learning_rate=3e-3), train_images=600,
    validation_split=0.0, lr_decay=0.6,
)  # fmt: skip
ONE_CYCLE = RunSpec(  # the Fast preset's schedule: the rate climbs, then falls, batch by batch
    FAST_ARCHITECTURE, recipe=TrainConfig(epochs=2, batch_size=128, learning_rate=2e-2), train_images=600,
    validation_split=0.0, one_cycle=True,
)  # fmt: skip
REGULARISED = replace(  # every option against overfitting at once (8 filters keep it quick)
    COURSE_CNN, filters=8, dropout=0.3, l2=1e-4, augment_flip=True, augment_shift=True, augment_rotation=True,
    augment_zoom=True,
)  # fmt: skip
FIGHT = RunSpec(  # a high learning rate on 300 images: the validation loss rises in epoch 4, early stopping acts
    REGULARISED, recipe=TrainConfig(epochs=5, learning_rate=0.03, early_stopping=True, patience=1), train_images=300,
    validation_split=0.2,
)  # fmt: skip
SPECS = {
    "course": RunSpec(recipe=TrainConfig(epochs=1), train_images=2_000),
    "dense": RunSpec(architecture=None),
    "design": RunSpec(DESIGN, recipe=TrainConfig(optimizer="rmsprop", learning_rate=3e-4, seed=7)),
    "hand-picked": HAND_PICKED,
    "fast": FAST_LIKE,
    "one-cycle": ONE_CYCLE,
    "stop-early": RunSpec(recipe=TrainConfig(epochs=5, stop_at_accuracy=0.6), train_images=300, validation_split=0.2),
    "fight": FIGHT,
}
STEPS = [
    "Setup",
    "Prepare the data",
    "Build the model",
    "Compile the model",
    "Train the model",
    "Evaluate the trained model",
    "Plot the learning curves",
    "Confusion matrix",
]
TEST_LINE = re.compile(r"^Test accuracy: (\d\.\d{4})$", re.MULTILINE)  # the evaluate cell's fixed line


def code_cells(book) -> list[str]:
    return [cell.source for cell in book.cells if cell.cell_type == "code"]


def model_cell(book) -> str:
    """The code cell right after the 'Build the model' heading."""
    index = next(i for i, c in enumerate(book.cells) if c.source.startswith("## Build the model"))
    return book.cells[index + 1].source


def run_cells(book, *, until: str = "## Plot the learning curves") -> dict:
    """Execute the notebook's code cells in this process, up to the heading `until` (plots would open a browser)."""
    namespace: dict = {}
    for cell in book.cells:
        if cell.source.startswith(until):
            break
        if cell.cell_type == "code" and cell.source != "model.summary()":
            exec(compile(cell.source, "<notebook cell>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name", SPECS)
def test_every_notebook_validates_reads_in_named_steps_and_is_python(name):
    spec = SPECS[name]
    book = notebook(spec)
    nbformat.validate(book)
    assert book.metadata.kernelspec.name == "python3"
    assert book.cells[0].source.startswith(f"# {spec.title()}\n")
    assert [c.source.splitlines()[0].removeprefix("## ") for c in book.cells if c.source.startswith("## ")] == STEPS
    for source in code_cells(book):
        ast.parse(source)  # every code cell is valid Python
    assert not any("models." in source or "components." in source for source in code_cells(book))  # self-contained
    assert nbformat.reads(notebook_text(spec), as_version=4) == book  # the file's text is this notebook


@pytest.mark.parametrize("config", [COURSE_CNN, DESIGN, REGULARISED], ids=["course", "design", "regularised"])
def test_the_model_cell_is_the_architecture_pages_code_and_builds_the_labs_model(config):
    from models.networks.zoo import build_cnn

    cell = model_cell(notebook(RunSpec(config)))
    assert cell == keras_code(config)
    namespace: dict = {}
    exec(cell, namespace)
    built, lab = namespace["model"], build_cnn(config)
    assert [type(layer).__name__ for layer in built.layers] == [type(layer).__name__ for layer in lab.layers]
    assert [layer.get_config() | {"name": ""} for layer in built.layers] == [
        layer.get_config() | {"name": ""} for layer in lab.layers
    ]
    assert [layer.name for layer in built.layers] == [layer.name for layer in lab.layers]
    assert built.count_params() == lab.count_params()


def test_the_dense_baseline_cell_builds_the_course_dnn():
    from models.networks.zoo import course_dnn

    namespace: dict = {}
    exec(model_cell(notebook(RunSpec(architecture=None))), namespace)
    built, lab = namespace["model"], course_dnn()
    assert [layer.get_config() for layer in built.layers] == [layer.get_config() for layer in lab.layers]


def test_the_hand_picked_cell_sets_the_frozen_kernels_the_worker_sets():
    from models.networks.worker import build_model

    namespace = run_cells(notebook(HAND_PICKED), until="## Compile the model")
    conv1, lab = namespace["model"].get_layer("conv1"), build_model(HAND_PICKED).get_layer("conv1")
    assert not conv1.trainable and not lab.trainable
    np.testing.assert_array_equal(conv1.get_weights()[0], lab.get_weights()[0])  # bit for bit, from the text
    np.testing.assert_array_equal(conv1.get_weights()[0], hand_picked_kernels()[1])


@pytest.fixture(scope="module")
def worker_run(tmp_path_factory):
    """The worker's own job (models.networks.worker.run_job) for a spec of SPECS, run once: its saved folder."""
    from models.networks.worker import run_job

    folders: dict = {}

    def run(name: str):
        if name not in folders:
            folders[name] = tmp_path_factory.mktemp(name)
            run_job({"spec": SPECS[name].to_payload(), "name": name}, lambda _: None, StopFlag(), folders[name])
        return folders[name]

    return run


@pytest.mark.training
@pytest.mark.parametrize("name", ["fast", "one-cycle", "stop-early", "fight"])
def test_the_recipe_cells_train_as_the_worker_does(name, worker_run):
    """The worker's job (its learning-rate decay, its stop at accuracy, its augmentation, dropout, L2 and early
    stopping) against the notebook's cells run here: the same per-epoch history and test accuracy."""
    spec, folder = SPECS[name], worker_run(name)
    record = json.loads((folder / "run.json").read_text())
    namespace = run_cells(notebook(spec))
    history = namespace["history"].history
    assert set(history) == set(record["history"])
    for key, values in record["history"].items():
        np.testing.assert_allclose(history[key], values, rtol=1e-4, err_msg=key)
    assert namespace["test_accuracy"] == pytest.approx(record["test_accuracy"], abs=TOLERANCE)  # what it promises
    if name == "fast":  # after 2 epochs the optimizer holds the second epoch's rate, 0.003 x 0.6
        assert float(namespace["model"].optimizer.learning_rate) == pytest.approx(3e-3 * 0.6)
    elif name == "one-cycle":  # the last batch's rate: 0.02 / (the steps after the climb), written out
        steps = 2 * 5  # 600 images in batches of 128: 5 a epoch
        assert float(namespace["model"].optimizer.learning_rate) == pytest.approx(2e-2 / (steps - 2))
    elif name == "stop-early":
        assert 1 < len(history["loss"]) < spec.recipe.epochs and record["stop_reason"].startswith("accuracy")
    else:  # stopped by early stopping, the best epoch's weights put back: the saved model's, weight for weight
        assert len(history["loss"]) < spec.recipe.epochs and record["stop_reason"].startswith("early stopping")
        best = int(np.argmin(history["val_loss"]))
        assert best < len(history["loss"]) - 1 and f"weights of epoch {best + 1}" in record["stop_reason"]
        saved = TrainingRun.read(folder).model
        for layer in ("conv1", "conv2", "dense", "output"):
            for mine, lab in zip(
                namespace["model"].get_layer(layer).get_weights(), saved.get_layer(layer).get_weights()
            ):
                np.testing.assert_allclose(mine, lab, rtol=1e-5, atol=1e-6, err_msg=layer)
    assert TrainingRun.read(folder).spec() == spec  # the saved run gives back its exact spec


@pytest.mark.training
def test_an_older_run_without_its_saved_spec_rebuilds_it_from_its_settings(worker_run, tmp_path):
    spec = SPECS["stop-early"]
    shutil.copytree(worker_run("stop-early"), tmp_path / "old")
    record = json.loads((tmp_path / "old" / "run.json").read_text())
    del record["spec"]
    (tmp_path / "old" / "run.json").write_text(json.dumps(record))
    rebuilt = TrainingRun.read(tmp_path / "old").spec()
    assert rebuilt == spec and notebook_text(rebuilt) == notebook_text(spec)


@pytest.mark.training
def test_an_executed_notebook_trains_and_scores_as_the_apps_run(fashion, tmp_path):
    """nbclient runs the exported notebook in a python3 ipykernel (timeout: 120 s a cell) on 2,000 images for one
    epoch; its printed test accuracy is the app's (models.networks.worker.build_model + models.networks.train.train,
    here)."""
    from nbclient import NotebookClient

    from models.networks.train import evaluate, train
    from models.networks.worker import build_model

    spec = SPECS["course"]
    book = notebook(spec)
    NotebookClient(book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(
        output.get("text", "") for cell in book.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
    )
    (notebook_accuracy,) = (float(value) for value in TEST_LINE.findall(printed))

    (x_train, y_train), (x_test, y_test) = fashion
    n_fit, n_all = spec.fitted_images, spec.train_images
    model = build_model(spec)
    train(
        model,
        (x_train[:n_fit], y_train[:n_fit]),
        spec.recipe,
        validation_data=(x_train[n_fit:n_all], y_train[n_fit:n_all]),
    )
    app_accuracy = evaluate(model, x_test, y_test)["accuracy"]
    assert 0.5 < app_accuracy < 0.9  # a real, short run
    assert abs(notebook_accuracy - app_accuracy) <= 0.01, (notebook_accuracy, app_accuracy)

    figures = [
        output["data"]["application/vnd.plotly.v1+json"]
        for cell in book.cells
        for output in cell.get("outputs", [])
        if "application/vnd.plotly.v1+json" in output.get("data", {})
    ]
    curves, confusion = figures
    assert {trace["name"] for trace in curves["data"]} == {
        "training loss", "validation loss", "training accuracy", "validation accuracy",
    }  # fmt: skip
    matrix = plotly_array(confusion["data"][0]["z"])
    assert matrix.shape == (10, 10) and matrix.sum() == 10_000
    assert np.trace(matrix) / 10_000 == pytest.approx(notebook_accuracy, abs=1e-3)  # the diagonal: right answers


def test_the_cli_writes_the_notebook_the_function_builds(tmp_path, capsys):
    output = tmp_path / "run.ipynb"
    assert main(["--model", "course", "--epochs", "1", "--train-size", "2000", "--output", str(output)]) == 0
    assert output.read_text() == notebook_text(SPECS["course"])
    args = ["--model", "dense", "--train-size", "20000", "--output", str(output)]
    main(args)
    assert output.read_text() == notebook_text(SPECS["dense"])
    design = ["--conv-blocks", "1", "--filters", "16", "--kernel-size", "5", "--padding", "same", "--pooling", "avg"]
    recipe = ["--dropout", "0.25", "--optimizer", "rmsprop", "--lr", "0.0003", "--seed", "7"]
    main([*design, *recipe, "--output", str(output)])
    assert output.read_text() == notebook_text(SPECS["design"])
    fast = ["--filters", str(FAST_ARCHITECTURE.filters), "--padding", "same", "--epochs", "2", "--batch-size", "128"]
    fast += ["--lr", "0.003"]
    main([*fast, "--train-size", "600", "--validation-split", "0", "--lr-decay", "0.6", "--output", str(output)])
    assert output.read_text() == notebook_text(FAST_LIKE)
    fight = ["--filters", "8", "--dropout", "0.3", "--l2", "0.0001", "--shift", "--rotate", "--zoom", "--flip"]
    stop = ["--early-stopping", "--patience", "1", "--epochs", "5", "--lr", "0.03", "--train-size", "300"]
    main([*fight, *stop, "--validation-split", "0.2", "--output", str(output)])
    assert output.read_text() == notebook_text(FIGHT)
    assert "wrote" in capsys.readouterr().out


def test_the_cli_names_the_training_pages_link_options():
    """The Training page's link (?shift=1&rotate=1&zoom=1&flip=1&dropout=&l2=&early=1) has an option each."""
    from components.sections.training_regularise import LINK

    options = {action.dest for action in parser()._actions}
    assert {"early_stopping" if name == "early" else name for name in LINK} | {"patience"} <= options


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "Epochs must be 1-100, got 0."),
        (["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
        (["--optimizer", "nadam"], "argument --optimizer: invalid choice: 'nadam'"),
        (["--train-size", "70000"], "Training-set size must be 100-60,000 images"),
        (["--validation-split", "0.9"], "Validation split must be 0-0.5"),
        (["--kernel-size", "40"], "conv1: a 40x40 kernel does not fit in the 28x28 input"),
        (["--lr-decay", "1.5"], "Learning rate and its per-epoch decay must be in (0, 1]."),
        (["--stop-at-accuracy", "2"], "Stop-at accuracy must be in (0, 1], got 2.0."),
        (["--dropout", "1"], "dropout must be in [0, 1), got 1.0"),
        (["--l2", "5"], "l2 must be in [0, 0.1], got 5.0"),
        (["--l2", "lots"], "argument --l2: invalid float value: 'lots'"),
        (["--shift", "1"], "unrecognized arguments: 1"),
        (["--model", "dense", "--dropout", "0.5", "--flip"], "--dropout, --flip: augmentation, dropout and L2 apply"),
        (["--patience", "3"], "--patience is early stopping's: add --early-stopping."),
        (["--early-stopping", "--patience", "0"], "Early-stopping patience must be 1-100 epochs, got 0."),
        (["--early-stopping", "--validation-split", "0"], "Early stopping watches the validation loss"),
    ],
)
def test_bad_options_give_a_clear_argparse_error(args, message, tmp_path, capsys):
    output = tmp_path / "run.ipynb"
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--output", str(output)])
    error = capsys.readouterr().err
    assert exit_.value.code == 2 and error.startswith("usage: python -m models.training.export") and message in error
    assert "Traceback" not in error and not output.exists()


def test_an_output_folder_that_does_not_exist_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--output", str(tmp_path / "missing" / "run.ipynb")])
    assert "cannot write" in capsys.readouterr().err


def test_the_cli_runs_as_a_module_without_tensorflow(tmp_path):
    script = (
        "import runpy, sys; sys.argv = ['models.training.export', '--epochs', '1', '--output', sys.argv[1]]\n"
        "try:\n    runpy.run_module('models.training.export', run_name='__main__')\nexcept SystemExit as e:\n"
        "    assert e.code == 0, e.code\nprint('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    output = tmp_path / "run.ipynb"
    result = subprocess.run(
        [sys.executable, "-c", script, str(output)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False False"
    assert architecture(RunSpec()) == COURSE_CNN and nbformat.read(output, as_version=4).cells


# ---------------------------------------------------------------- a run on the learner's own images

OWN_ZIP = "my_images.zip"


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """3 classes x 20 real Fashion-MNIST images zipped as a learner would (tests.unit.test_own_data), stored as the page
    stores them, trained 1 epoch by the worker's own job; the zip the lab gives back (to_zip) saved as OWN_ZIP."""
    from models.networks.worker import run_job
    from tests.support.image_files import real_members, zip_of

    root = tmp_path_factory.mktemp("own-data")
    dataset = od.read_zip(zip_of(real_members()), "three classes")
    path = od.DatasetStore(root).save(root / "learner", dataset)
    parts = od.split(dataset.labels, 0.1, 0)
    spec = RunSpec(
        replace(COURSE_CNN, filters=8),
        recipe=TrainConfig(epochs=1, batch_size=16),
        train_images=parts.train_images,
        validation_split=0.1,
        dataset=str(path),
    )
    run_job({"spec": spec.to_payload(), "name": "own"}, lambda _: None, StopFlag(), root / "run")
    run = TrainingRun.read(root / "run")
    folder = root / "notebook"
    folder.mkdir()
    (folder / OWN_ZIP).write_bytes(od.to_zip(dataset))
    return dataset, parts, run, folder


def own_notebook(run: TrainingRun, **kwargs):
    return notebook(run.spec(), title=run.name, class_names=run.class_names, **kwargs)


@pytest.mark.training
def test_an_own_data_notebook_reads_the_zip_and_splits_it_as_the_lab_did(own_run, monkeypatch):
    """The data cell, run here beside the zip: the lab's images, labels and class order, and the split indices of
    models.inputs.own_data.split; the model cell has one output per class."""
    dataset, parts, run, folder = own_run
    book = own_notebook(run)
    nbformat.validate(book)
    assert [c.source.splitlines()[0].removeprefix("## ") for c in book.cells if c.source.startswith("## ")] == STEPS
    assert not any("models." in source or "components." in source for source in code_cells(book))
    assert f"Put `{OWN_ZIP}` next to this notebook" in book.cells[0].source and "Bag, Sneaker, Trouser" in (
        book.cells[0].source
    )
    assert model_cell(book) == keras_code(run.spec().architecture, 3)
    monkeypatch.chdir(folder)
    namespace = run_cells(book, until="## Build the model")
    assert namespace["class_names"] == list(run.class_names) == ["Bag", "Sneaker", "Trouser"]
    np.testing.assert_array_equal(namespace["images"], dataset.images)
    np.testing.assert_array_equal(namespace["labels"], dataset.labels)
    for part in ("fit", "validation", "test"):
        np.testing.assert_array_equal(namespace["split"][part], getattr(parts, part), err_msg=part)
    assert (len(namespace["x_train"]), len(namespace["x_val"]), len(namespace["x_test"])) == (43, 5, 12)
    exec(model_cell(book), namespace)
    assert namespace["model"].outputs[0].shape[-1] == 3


@pytest.mark.training
def test_an_executed_own_data_notebook_scores_as_the_run(own_run):
    """nbclient runs the whole notebook in a python3 ipykernel in the zip's folder: the same test accuracy as the
    worker's run, and a 3x3 confusion matrix with the run's class names over its 12 test images."""
    from nbclient import NotebookClient

    _, parts, run, folder = own_run
    book = own_notebook(run, test_accuracy=run.test_accuracy)
    NotebookClient(book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    printed = "".join(
        output.get("text", "") for cell in book.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
    )
    (notebook_accuracy,) = (float(value) for value in TEST_LINE.findall(printed))
    assert notebook_accuracy == pytest.approx(run.test_accuracy, abs=5e-5)  # printed to 4 places
    (notebook_loss,) = (float(value) for value in re.findall(r"^Test loss: (\d+\.\d{4})$", printed, re.MULTILINE))
    assert notebook_loss == pytest.approx(run.test_loss, abs=2e-4)  # the same weights on the same 12 images
    assert "60 images: {'Bag': 20, 'Sneaker': 20, 'Trouser': 20}" in printed
    confusion = [
        output["data"]["application/vnd.plotly.v1+json"]
        for cell in book.cells
        for output in cell.get("outputs", [])
        if "application/vnd.plotly.v1+json" in output.get("data", {})
    ][-1]["data"][0]
    matrix = plotly_array(confusion["z"])
    assert matrix.shape == (3, 3) and matrix.sum() == len(parts.test) == 12
    assert list(confusion["x"]) == list(confusion["y"]) == ["Bag", "Sneaker", "Trouser"]
    assert np.trace(matrix) / 12 == pytest.approx(run.test_accuracy, abs=1e-6)


@pytest.mark.training
def test_an_own_data_notebook_without_its_zip_or_class_names_says_what_is_missing(own_run, tmp_path, monkeypatch):
    _, _, run, _ = own_run
    with pytest.raises(ValueError, match="needs its 2-10 class names"):
        notebook(run.spec())
    with pytest.raises(ValueError, match="a file name next to the notebook"):
        own_notebook(run, dataset_file="../elsewhere/data.zip")
    book = own_notebook(run, dataset_file="three classes-28x28.zip")
    assert 'Path("three classes-28x28.zip")' in code_cells(book)[1]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="three classes-28x28.zip is missing: download the run's dataset zip"):
        run_cells(book, until="## Build the model")
    (tmp_path / "three classes-28x28.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip
    with pytest.raises(ValueError, match=r"holds no images of \['Bag', 'Sneaker', 'Trouser'\]: use the zip CNN Lab"):
        run_cells(book, until="## Build the model")
