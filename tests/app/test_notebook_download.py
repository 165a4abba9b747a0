"""'Download as notebook' under AppTest: a saved run's button on the Training page, the design's on Architecture.

The files are read where Streamlit keeps a download's bytes (its media file storage); each is checked against
models.training.export's own notebook for the spec, and its model cell against models.design.keras_code for that design.
"""

from __future__ import annotations

import base64
import io
import zipfile

import nbformat
import numpy as np
import pytest
from PIL import Image
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from components.framework.learner import TOKEN_PATTERN
from components.framework.session_keys import (
    LEARNER,
    TRAINING_BATCH,
    TRAINING_EPOCHS,
    TRAINING_IMAGES,
    TRAINING_LR,
    TRAINING_OPTIMIZER,
    TRAINING_SEED,
    TRAINING_VALIDATION,
)
from components.sections.training import default_spec
from components.training_jobs import run_store
from models.design.config import COURSE_CNN, CNNConfig
from models.design.keras_code import keras_code
from models.training.export import notebook_text
from models.training.job_protocol import StopFlag
from models.training.recipes import RunSpec, TrainConfig
from tests.support import apptest

LABEL = "Download as notebook (.ipynb)"
TOKEN = "notebook-learner-" + "x" * 24


@pytest.fixture
def downloads(monkeypatch) -> dict[str, tuple[bytes, str]]:
    """Every file a page hands to a download button, (its bytes, its file name), by its media id (the end of the
    button's url)."""
    files: dict[str, tuple[bytes, str]] = {}
    keep = MemoryMediaFileStorage.load_and_get_id

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
        file_id = keep(self, path_or_data, mimetype, kind, filename)
        files[file_id] = path_or_data, filename
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", load_and_get_id)
    return files


def notebook_download(app, files: dict[str, tuple[bytes, str]], key: str | None = None):
    """The notebook button's file name, its bytes and its notebook (validated); clicking it does not rerun."""
    (button,) = [b for b in app.get("download_button") if b.proto.label == LABEL and (key is None or b.key == key)]
    data, file_name = files[button.proto.url.rsplit("/", 1)[-1].split(".")[0]]
    assert button.proto.ignore_rerun
    book = nbformat.reads(data.decode(), as_version=4)
    nbformat.validate(book)
    return file_name, data, book


def model_cell(book) -> str:
    index = next(i for i, c in enumerate(book.cells) if c.source.startswith("## Build the model"))
    return book.cells[index + 1].source


def test_the_default_design_spec_is_what_a_fresh_training_page_trains():
    app = apptest.open_page("pages/training.py")
    state = app.session_state
    fresh = RunSpec(
        architecture=COURSE_CNN,
        recipe=TrainConfig(
            epochs=state[TRAINING_EPOCHS],
            batch_size=state[TRAINING_BATCH],
            learning_rate=state[TRAINING_LR],
            optimizer=state[TRAINING_OPTIMIZER],
            seed=int(state[TRAINING_SEED]),
        ),
        train_images=state[TRAINING_IMAGES],
        validation_split=state[TRAINING_VALIDATION],
    )
    assert default_spec(COURSE_CNN) == fresh


@pytest.mark.parametrize(
    ("query", "config"),
    [
        ({}, COURSE_CNN),
        ({"blocks": "1", "filters": "32", "kernel": "5", "padding": "same"}, CNNConfig(1, 32, 5, "same")),
    ],
    ids=["course", "design"],
)
def test_the_architecture_page_downloads_its_designs_notebook(query, config, downloads):
    app = apptest.open_page("pages/architecture.py", **query)
    file_name, data, book = notebook_download(app, downloads)
    spec = default_spec(config)
    assert data == notebook_text(spec, title=f"My design: {spec.title()}").encode()
    assert model_cell(book) == keras_code(config)  # the code the page shows above the button
    assert app.code[0].value == keras_code(config).rstrip()  # st.code drops the final newline
    assert file_name == f"my-design-{spec.title().lower().replace(' ', '-').replace(',', '')}.ipynb"
    assert any(
        c.value.startswith("The notebook trains it with the Training page's default recipe: 20,000")
        for c in app.caption
    )


@pytest.mark.training
def test_a_saved_runs_notebook_is_its_exact_spec(downloads):
    from models.networks.worker import run_job

    assert TOKEN_PATTERN.fullmatch(TOKEN)
    store = run_store()
    spec = RunSpec(CNNConfig(filters=16), recipe=TrainConfig(epochs=1, batch_size=64, seed=3), train_images=500)
    staging = store.staging_folder()
    run_job({"spec": spec.to_payload(), "name": "Run 1: " + spec.title()}, lambda _: None, StopFlag(), staging)
    run = store.commit(TOKEN, staging)
    app = apptest.open_page("pages/training.py", session={LEARNER: TOKEN})
    file_name, data, book = notebook_download(app, downloads, key=f"notebook-{run.run_id}")
    assert data == notebook_text(spec, title=run.name, test_accuracy=run.test_accuracy).encode()
    assert model_cell(book) == keras_code(spec.architecture)
    assert f"reached a test accuracy of {run.test_accuracy:.4f}" in book.cells[0].source
    assert file_name == "run-1-cnn-with-16-filters-1-epoch.ipynb"
    assert len(app.get("download_button")) == 3  # beside the model and the history


def test_presentation_mode_shows_no_notebook_button_nor_words_about_it():
    app = apptest.open_page("pages/architecture.py", present="1")
    assert not [b for b in app.get("download_button") if b.proto.label == LABEL]
    assert not any("The notebook trains it" in c.value for c in app.caption)


def own_data_run(token: str, dataset_path: str, payload_dataset: dict | None = None):
    """A run of the worker's job on the learner's own images (1 epoch, 8 filters), saved under `token`."""
    from dataclasses import replace

    from models.inputs import own_data as od
    from models.networks.worker import run_job

    store = run_store()
    dataset = od.load_dataset(payload_dataset or {"path": dataset_path})
    spec = RunSpec(
        replace(COURSE_CNN, filters=8),
        recipe=TrainConfig(epochs=1, batch_size=16),
        train_images=od.split(dataset.labels, 0.1, 0).train_images,
        dataset=dataset_path,
    )
    staging = store.staging_folder()
    payload = {"spec": spec.to_payload(), "name": "Run 1: " + spec.title()}
    run_job(payload | ({"dataset": payload_dataset} if payload_dataset else {}), lambda _: None, StopFlag(), staging)
    return spec, store.commit(token, staging)


@pytest.mark.training
def test_an_own_data_runs_download_tab_gives_its_dataset_zip_beside_the_notebook_that_reads_it(downloads):
    from models.inputs import own_data as od
    from tests.support.image_files import real_members, zip_of

    token = "notebook-own-" + "y" * 24
    dataset = od.read_zip(zip_of(real_members()), "three classes")
    path = od.DatasetStore(run_store().root).save(run_store().learner_folder(token), dataset)
    spec, run = own_data_run(token, str(path))
    app = apptest.open_page("pages/training.py", session={LEARNER: token})
    assert len(app.get("download_button")) == 4  # model, history, notebook, dataset
    (button,) = [b for b in app.get("download_button") if b.key == f"dataset-{run.run_id}"]
    data, file_name = downloads[button.proto.url.rsplit("/", 1)[-1].split(".")[0]]
    assert file_name == "three classes-28x28.zip" and data == od.to_zip(dataset)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # the images the run trained on, pixel for pixel (PIL)
        names = sorted(archive.namelist(), key=lambda name: name.split("/")[1])
        pixels = np.stack([np.asarray(Image.open(io.BytesIO(archive.read(name)))) for name in names])
    np.testing.assert_array_equal(pixels, dataset.images)
    assert [name.split("/")[0] for name in names] == [run.class_names[label] for label in dataset.labels]
    _, notebook_data, book = notebook_download(app, downloads, key=f"notebook-{run.run_id}")
    assert (
        notebook_data
        == notebook_text(
            spec,
            title=run.name,
            test_accuracy=run.test_accuracy,
            class_names=run.class_names,
            dataset_file="three classes-28x28.zip",
        ).encode()
    )
    assert 'Path("three classes-28x28.zip")' in book.cells[4].source
    assert model_cell(book) == keras_code(spec.architecture, 3)
    assert any(
        c.value == "The notebook reads three classes-28x28.zip: save both files in one folder." for c in app.caption
    )
    presented = apptest.open_page("pages/training.py", session={LEARNER: token}, present="1")
    assert not any("The notebook reads" in c.value for c in presented.caption)  # no words about hidden buttons


@pytest.mark.training
def test_an_own_data_run_whose_dataset_is_gone_says_what_its_notebook_needs(downloads, tmp_path):
    from models.inputs import own_data as od
    from tests.support.image_files import real_members, zip_of

    token = "notebook-gone-" + "z" * 24
    shipped = {"npz": base64.b64encode(od.save_npz(od.read_zip(zip_of(real_members())))).decode()}
    spec, run = own_data_run(token, str(tmp_path / "gone.npz"), shipped)
    app = apptest.open_page("pages/training.py", session={LEARNER: token})
    assert len(app.get("download_button")) == 3 and not [
        b for b in app.get("download_button") if (b.key or "").startswith("dataset-")
    ]
    assert any("no longer on the server" in c.value and "my_images.zip" in c.value for c in app.caption)
    _, _, book = notebook_download(app, downloads, key=f"notebook-{run.run_id}")
    assert 'Path("my_images.zip")' in book.cells[4].source
