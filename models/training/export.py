"""A run as a Jupyter notebook to take home, written as text (no TensorFlow here): `notebook(spec)`, and
`python -m models.training.export --model course --epochs 1 --train-size 2000 --output run.ipynb`.

The notebook reads as a keras-io example, in named steps: setup, data (Fashion-MNIST found as
models.inputs.fashion_mnist finds it, the run's subset, scaling and validation split), the model
(models.design.keras_code's code, the Architecture page's), compile and fit (the run's recipe and seed), evaluate,
learning curves and a confusion matrix (Plotly and scikit-learn, both in requirements.txt). It needs nothing but the
project's requirements and none of its code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
import numpy as np
from nbformat import v4

from models.design.analysis import DENSE_BASELINE  # the layers of models.networks.zoo.course_dnn
from models.design.config import COURSE_CNN, CNNConfig, ConfigError
from models.design.keras_code import keras_code
from models.inputs.fashion_mnist import CLASS_NAMES, DEBIAN_DIR, FILES
from models.inputs.own_data import MAX_CLASSES, MIN_CLASSES, TEST_SHARE
from models.training.recipes import (
    EARLY_STOPPING_PATIENCE,
    ONE_CYCLE_WARMUP,
    OPTIMIZER_NAMES,
    RunSpec,
    TrainConfig,
    epoch_count,
    hand_picked_kernels,
)

ONE_CYCLE_CODE = """\
class OneCycle(keras.callbacks.Callback):
    \"\"\"The learning rate of every batch: a straight climb to `peak` over the first `warmup` share of the steps,
    then a straight fall to almost 0 (one-cycle).\"\"\"

    def __init__(self, peak, total_steps, steps_per_epoch, warmup):
        super().__init__()
        climb = max(1, round(warmup * total_steps))
        step = np.arange(total_steps, dtype=np.float64)
        falling = (total_steps - step) / max(1, total_steps - climb)
        rates = peak * np.minimum(np.minimum((step + 1) / climb, falling), 1.0)
        self.rates, self.steps_per_epoch, self.epoch = [float(rate) for rate in rates], steps_per_epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        step = min(self.epoch * self.steps_per_epoch + batch, len(self.rates) - 1)
        self.model.optimizer.learning_rate = self.rates[step]"""
OPTIMIZER_CLASSES = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}  # RunSpec's names -> keras.optimizers
MODEL_CHOICES = ("course", "dense")
TOLERANCE = 1e-3  # the notebook's test accuracy against the app's run on the same versions (tests/unit/test_export.py)
DATASET_FILE = "my_images.zip"  # the zip an own-images notebook reads, next to it, unless the caller names another

SETUP = """\
{imports}from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

seed = {seed}
keras.utils.set_random_seed(seed)  # the same starting weights and batch order on every run
"""

LOAD = f'''\
class_names = {list(CLASS_NAMES)!r}
files = {list(FILES.values())!r}


def read_idx(path):
    """One gzip IDX file of unsigned bytes: a 4-byte magic number (its last byte the rank), the sizes, the data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    rank = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def load_fashion_mnist():
    """Fashion-MNIST where CNN Lab looks for it: $FASHION_MNIST_DIR, Keras's cache, the Debian package
    dataset-fashion-mnist, else Keras's downloader."""
    folders = [
        os.environ.get("FASHION_MNIST_DIR"),
        Path.home() / ".keras" / "datasets" / "fashion-mnist",
        "{DEBIAN_DIR}",
    ]
    for folder in folders:
        if folder and all((Path(folder) / name).is_file() for name in files):
            x_train, y_train, x_test, y_test = (read_idx(Path(folder) / name) for name in files)
            return (x_train, y_train), (x_test, y_test)
    return keras.datasets.fashion_mnist.load_data()


(x_train, y_train), (x_test, y_test) = load_fashion_mnist()
'''

OWN_LOAD = '''\
import io
import math
import zipfile

from PIL import Image
from sklearn.model_selection import train_test_split

dataset_zip = Path({dataset_file})  # CNN Lab's download of the dataset, saved next to this notebook
class_names = {class_names!r}  # the run's classes, in the order of the model's outputs


def read_dataset(path):
    """The zip's 28x28 PNGs (class_name/0000.png, numbered in CNN Lab's order) as uint8 images and their labels."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{{path.resolve()}} is missing: download the run's dataset zip from CNN Lab (Training page, the run's "
            "Download tab) and put it next to this notebook."
        )
    found = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith("/"):
                continue
            parts = name.split("/")
            number = parts[-1].removesuffix(".png")
            if len(parts) != 2 or parts[0] not in class_names or not number.isdigit():
                raise ValueError(f"{{name!r}} is not one of CNN Lab's class_name/0000.png files: use the lab's zip.")
            pixels = np.asarray(Image.open(io.BytesIO(archive.read(name))).convert("L"))
            if pixels.shape != (28, 28):
                raise ValueError(f"{{name!r}} is {{pixels.shape[1]}}x{{pixels.shape[0]}} pixels, not 28x28.")
            found.append((int(number), pixels, class_names.index(parts[0])))
    present = {{item[2] for item in found}}
    missing = [name for index, name in enumerate(class_names) if index not in present]
    if missing:
        raise ValueError(f"{{path}} holds no images of {{missing}}: use the zip CNN Lab gave for this run.")
    found.sort(key=lambda item: item[0])  # the order the lab numbered them in
    return np.stack([item[1] for item in found]), np.array([item[2] for item in found])


images, labels = read_dataset(dataset_zip)
print(len(labels), "images:", dict(zip(class_names, np.bincount(labels, minlength=len(class_names)).tolist())))
'''

PLOTS = """\
import plotly.graph_objects as go
from plotly.subplots import make_subplots

curves = history.history
epochs = list(range(1, len(curves["loss"]) + 1))
figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
for column, metric in enumerate(["loss", "accuracy"], start=1):
    figure.add_trace(go.Scatter(x=epochs, y=curves[metric], name=f"training {metric}", line_dash="dash"), 1, column)
    if f"val_{metric}" in curves:
        figure.add_trace(go.Scatter(x=epochs, y=curves[f"val_{metric}"], name=f"validation {metric}"), 1, column)
figure.update_xaxes(title_text="epoch", dtick=1)
figure.update_layout(height=400)
figure.show()
"""

CONFUSION = """\
import plotly.express as px
from sklearn.metrics import confusion_matrix

predicted = model.predict(x_test, verbose=0).argmax(axis=1)
matrix = confusion_matrix(y_test, predicted, labels=list(range(len(class_names))))
figure = px.imshow(
    matrix,
    x=class_names,
    y=class_names,
    text_auto=True,
    color_continuous_scale="Blues",
    labels={"x": "predicted", "y": "true", "color": "images"},
    title=f"Confusion matrix: the {len(y_test):,} test images",
)
figure.update_layout(height=600)
figure.show()
"""


def architecture(spec: RunSpec) -> CNNConfig:
    """The builder config whose keras_code builds the run's model (the dense baseline is a CNN without conv layers)."""
    return DENSE_BASELINE if spec.architecture is None else spec.architecture


def recipe_text(spec: RunSpec) -> str:
    """'20,000 images (2,000 validate), 5 epochs, batch 32, adam 0.001, seed 0'."""
    recipe = spec.recipe
    decay = f" x{spec.lr_decay:g} per epoch" if spec.lr_decay != 1.0 else ""
    return (
        f"{spec.train_images:,} images ({spec.validation_images:,} validate), {epoch_count(recipe.epochs)}, batch "
        f"{recipe.batch_size}, {recipe.optimizer} {recipe.learning_rate:g}{decay}, seed {recipe.seed}"
    )


def regularisation_words(spec: RunSpec) -> str:
    """' **Against overfitting**: shift and flip augmentation, dropout 0.5, L2 0.0001, early stopping (patience 2).'"""
    config, recipe = spec.architecture, spec.recipe
    parts = []
    if config is not None and config.augmentations:
        names = list(config.augmentations)
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        parts.append(f"{listed} augmentation (random, training only)")
    if config is not None and config.dropout:
        parts.append(f"dropout {config.dropout:g}")
    if config is not None and config.l2:
        parts.append(f"L2 weight decay {config.l2:g}")
    if recipe.early_stopping:
        parts.append(
            f"early stopping on the validation loss (patience {recipe.patience}, the best epoch's weights restored)"
        )
    return f" **Against overfitting**: {', '.join(parts)}." if parts else ""


def describe(spec: RunSpec, class_names: list[str] | None = None, dataset_file: str = DATASET_FILE) -> str:
    """The run in words, for the title cell (`class_names`: a run on the learner's own images)."""
    recipe = spec.recipe
    decay = f", multiplied by {spec.lr_decay:g} after every epoch" if spec.lr_decay != 1.0 else ""
    stop = (
        f" Training stops at the end of the first epoch whose {recipe.monitor} reaches {recipe.stop_at_accuracy:g}."
        if recipe.stop_at_accuracy is not None
        else ""
    )
    held = (
        f"the last {spec.validation_images:,} of them validate after every epoch"
        if spec.validation_images
        else "no validation"
    )
    data = (
        f"the first {spec.train_images:,} Fashion-MNIST training images ({held}); tested on the 10,000 test images"
        if class_names is None
        else f"your own images, {len(class_names)} classes ({', '.join(class_names)}), read from `{dataset_file}`; "
        f"{TEST_SHARE:.0%} of each class held out for the test, then "
        + (
            f"{spec.validation_images:,} of the rest validate after every epoch"
            if spec.validation_images
            else "no validation"
        )
        + f" (stratified, seed {recipe.seed}, as the lab split them)"
    )
    return (
        f"**Model**: {spec.model_label()}{' (first layer hand-picked and frozen)' if spec.hand_picked else ''}. "
        f"**Data**: {data}. **Recipe**: {recipe.optimizer}, learning rate {recipe.learning_rate!r}{decay}, batch "
        f"{recipe.batch_size}, {recipe.epochs} epoch{'s' * (recipe.epochs != 1)}, seed {recipe.seed}.{stop}"
        f"{regularisation_words(spec)}"
    )


SCALE = [
    "# Scale images to the [0, 1] range and give them one channel: (N, 28, 28, 1)",
    'x_train = np.expand_dims(x_train.astype("float32") / 255, -1)',
    'x_test = np.expand_dims(x_test.astype("float32") / 255, -1)',
]
COUNTS = 'print("training:", x_train.shape[0], "images; test:", x_test.shape[0], "images")'


def data_code(spec: RunSpec) -> str:
    """The run's slice of the training set, scaled to [0, 1] with a channel axis, and its validation split."""
    lines = [
        LOAD,
        f"x_train, y_train = x_train[:{spec.train_images}], y_train[:{spec.train_images}]  # the first "
        f"{spec.train_images:,} training images",
        *SCALE,
    ]
    if spec.validation_images:
        n = spec.validation_images
        lines += [
            f"# The last {n:,} of them validate after every epoch; the model trains on the rest",
            f"x_val, y_val = x_train[-{n}:], y_train[-{n}:]",
            f"x_train, y_train = x_train[:-{n}], y_train[:-{n}]",
            'print("validation:", x_val.shape[0], "images")',
        ]
    lines += [COUNTS]
    return "\n".join(lines) + "\n"


def own_data_code(spec: RunSpec, class_names: list[str], dataset_file: str) -> str:
    """The learner's zip read back, and the lab's split of it (models.inputs.own_data.split's scikit-learn calls): the
    test share of each class held out, then the validation part of the rest, both stratified and seeded."""
    lines = [
        OWN_LOAD.format(dataset_file=json.dumps(dataset_file), class_names=list(class_names)),
        "split = {}",
        f"# {TEST_SHARE:.0%} of each class (rounded up) held out for the test: stratified by class, seeded",
        "pool, test = train_test_split(",
        f"    np.arange(len(labels)), test_size=math.ceil({TEST_SHARE!r} * len(labels)), stratify=labels, "
        "random_state=seed",
        ")",
        'split["test"] = np.sort(test)',
    ]
    if spec.validation_images:
        lines += [
            f"# Then {spec.validation_split:.0%} of the rest validate after every epoch (stratified when every class "
            "fits)",
            f"held = round({spec.validation_split!r} * len(pool))",
            "classes = len(np.unique(labels[pool]))",
            "stratify = labels[pool] if classes <= held <= len(pool) - classes else None",
            'split["fit"], split["validation"] = train_test_split(pool, test_size=held, stratify=stratify, '
            "random_state=seed)",
            'x_val, y_val = images[split["validation"]], labels[split["validation"]]',
            'x_val = np.expand_dims(x_val.astype("float32") / 255, -1)',
            'print("validation:", x_val.shape[0], "images")',
        ]
    else:
        lines += ['split["fit"] = np.sort(pool)  # no validation: the model trains on all the rest']
    lines += [
        'x_train, y_train = images[split["fit"]], labels[split["fit"]]',
        'x_test, y_test = images[split["test"]], labels[split["test"]]',
        *SCALE,
        COUNTS,
    ]
    return "\n".join(lines) + "\n"


def hand_picked_code() -> str:
    """Set the first conv layer to the classic kernels (models.training.recipes.hand_picked_kernels) and freeze it."""
    names, kernels = hand_picked_kernels()

    def number(value: np.float32) -> str:
        return np.format_float_positional(value, unique=True, trim="-")

    rows = [
        f"    {name!r}: [" + ", ".join("[" + ", ".join(number(v) for v in row) + "]" for row in kernel) + "],"
        for name, kernel in zip(names, np.moveaxis(kernels[:, :, 0, :], -1, 0))
    ]
    return (
        "# Classic 3x3 kernels, each scaled to length 1, fixed by hand instead of learned\n"
        "hand_picked = {\n" + "\n".join(rows) + "\n}\n"
        'kernels = np.stack(list(hand_picked.values()), axis=-1)[:, :, np.newaxis, :].astype("float32")\n'
        'conv1 = model.get_layer("conv1")\n'
        'conv1.set_weights([kernels, np.zeros(len(hand_picked), "float32")])\n'
        "conv1.trainable = False  # training leaves this layer as it is\n"
    )


def training_code(spec: RunSpec) -> tuple[str, str]:
    """The compile cell and the fit cell, from the run's recipe (one line or callback per RunSpec/TrainConfig field,
    as models.networks.train.train and models.networks.worker apply them)."""
    recipe = spec.recipe
    compile_cell = (
        f"optimizer = keras.optimizers.{OPTIMIZER_CLASSES[recipe.optimizer]}(learning_rate={recipe.learning_rate!r})\n"
        'model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])\n'
    )
    before: list[str] = []
    callbacks: list[
        str
    ] = []  # in models.networks.train's order: stop at accuracy, the learning-rate schedule, early stopping
    if recipe.stop_at_accuracy is not None:
        before += [
            "class StopAtAccuracy(keras.callbacks.Callback):",
            f'    """Stop at the end of the first epoch whose {recipe.monitor} reaches the threshold."""',
            "",
            "    def __init__(self, threshold):",
            "        super().__init__()",
            "        self.threshold = threshold",
            "",
            "    def on_epoch_end(self, epoch, logs=None):",
            f'        if (logs or {{}}).get("{recipe.monitor}", 0.0) >= self.threshold:',
            "            self.model.stop_training = True",
            "",
            "",
        ]
        callbacks.append(f"StopAtAccuracy({recipe.stop_at_accuracy!r})")
    if spec.lr_decay != 1.0:
        callbacks.append(
            "keras.callbacks.LearningRateScheduler("
            f"lambda epoch, rate: {recipe.learning_rate!r} * {spec.lr_decay!r}**epoch)"
        )
    if spec.one_cycle:
        before += ONE_CYCLE_CODE.splitlines() + ["", ""]
        steps = spec.steps_per_epoch()
        callbacks.append(
            f"OneCycle(peak={recipe.learning_rate!r}, total_steps={steps * recipe.epochs}, steps_per_epoch={steps}, "
            f"warmup={ONE_CYCLE_WARMUP!r})"
        )
    if recipe.early_stopping:
        callbacks.append(
            f'keras.callbacks.EarlyStopping(monitor="val_loss", patience={recipe.patience}, restore_best_weights=True)'
        )
    arguments = [
        "train_batches",
        f"epochs={recipe.epochs}",
        *(["validation_data=(x_val, y_val)"] if spec.validation_images else []),
        *(["callbacks=callbacks"] if callbacks else []),
        "shuffle=False",
    ]
    if callbacks:
        before += ["callbacks = [", *(f"    {callback}," for callback in callbacks), "]"]
    fit_cell = "\n".join(
        [
            *before,
            "keras.utils.set_random_seed(seed)  # as the lab seeds training",
            "# Batches of the training images, shuffled again every epoch in the lab's order for this seed (so fit",
            "# does not shuffle them again)",
            "train_batches = (",
            "    tf.data.Dataset.from_tensor_slices((x_train, y_train))",
            "    .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)",
            f"    .batch({recipe.batch_size})",
            ")",
            "history = model.fit(",
            *(f"    {argument}," for argument in arguments),
            ")",
        ]
    )
    return compile_cell, fit_cell + "\n"


EVALUATE = """\
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"Test accuracy: {test_accuracy:.4f}")
print(f"Test loss: {test_loss:.4f}")
"""


def notebook(
    spec: RunSpec,
    *,
    title: str | None = None,
    test_accuracy: float | None = None,
    class_names: list[str] | tuple[str, ...] | None = None,
    dataset_file: str = DATASET_FILE,
) -> nbformat.NotebookNode:
    """The run `spec` as a notebook (nbformat 4): its title (default spec.title()), then the steps. `test_accuracy`
    is the lab's own result for this run, quoted in the title cell. A run on the learner's own images
    (`spec.dataset`) needs its `class_names` (the run's record, in its order); its notebook reads `dataset_file`,
    the lab's zip of the dataset, from its own folder. ConfigError/ValueError if the spec cannot train."""
    spec.check()
    own = _own_class_names(spec, class_names, dataset_file)
    classes = len(CLASS_NAMES) if own is None else len(own)
    compile_cell, fit_cell = training_code(spec)
    md, code = v4.new_markdown_cell, v4.new_code_cell
    tested = "the 10,000 test images" if own is None else "the test images held out"
    cells = [
        md(_title_text(spec, title, test_accuracy, own, dataset_file)),
        md("## Setup"),
        code(SETUP.format(imports="import gzip\nimport os\n" if own is None else "", seed=spec.recipe.seed)),
        md(_data_intro(own, dataset_file)),
        code(data_code(spec) if own is None else own_data_code(spec, own, dataset_file)),
        md(
            "## Build the model\n\n`keras.Input`, then the layers in order (the code the Architecture page shows"
            + ("" if own is None else f", with one output per class: {classes}")
            + ")."
        ),
        code(keras_code(architecture(spec), classes)),
        *([md("The first layer: hand-picked kernels, frozen."), code(hand_picked_code())] if spec.hand_picked else []),
        code("model.summary()"),
        md("## Compile the model\n\nThe optimizer and its learning rate, the loss for integer labels, the metric."),
        code(compile_cell),
        md(_fit_intro(spec)),
        code(fit_cell),
        md(f"## Evaluate the trained model\n\nOn {tested}: the model never trained on them."),
        code(EVALUATE),
        md(
            "## Plot the learning curves\n\nDashed = training, solid = validation, after every epoch. A growing gap "
            "between them is overfitting."
        ),
        code(PLOTS),
        md(
            "## Confusion matrix\n\nRows are the true classes, columns the model's answers: the diagonal is right, "
            "anything else is a mix-up."
        ),
        code(CONFUSION),
    ]
    for index, cell in enumerate(cells):
        cell.id = f"cell-{index}"  # fixed ids (nbformat draws random ones): the same run, the same file
    return v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )


def _own_class_names(spec: RunSpec, class_names, dataset_file: str) -> list[str] | None:
    """A run on the learner's own images: its class names, checked with the dataset zip's name; None for
    Fashion-MNIST. ValueError for too few or too many names, or a zip name that is a path."""
    if not spec.dataset:
        return None
    if class_names is None or not MIN_CLASSES <= len(class_names) <= MAX_CLASSES:
        raise ValueError(
            f"A run on your own images needs its {MIN_CLASSES}-{MAX_CLASSES} class names, in the run's order."
        )
    if not dataset_file or "/" in dataset_file or "\\" in dataset_file:
        raise ValueError(f"The dataset zip must be a file name next to the notebook, got {dataset_file!r}.")
    return [str(name) for name in class_names]


def _title_text(
    spec: RunSpec, title: str | None, test_accuracy: float | None, own: list[str] | None, dataset_file: str
) -> str:
    """The title cell: what the notebook is, the lab's own test accuracy for the run, what it needs."""
    result = (
        f"\n\nIn CNN Lab this run reached a test accuracy of {test_accuracy:.4f}. The notebook starts from the "
        "same weights and feeds the same batches in the same order, so on the same TensorFlow version it gives this "
        f"number to within {TOLERANCE:g} (TensorFlow's multi-threaded sums can round differently); another CPU or "
        "version can change it more."
        if test_accuracy is not None
        else ""
    )
    needs = "TensorFlow (Keras 3), NumPy, scikit-learn and Plotly"
    if own is not None:
        needs = "TensorFlow (Keras 3), NumPy, Pillow, scikit-learn and Plotly"
        result += (
            f"\n\n**Put `{dataset_file}` next to this notebook first**: the dataset as CNN Lab trained on it (the "
            "Training page's run, Download tab, or 'Download the dataset as a zip' under Your own images), class "
            "folders of 28x28 PNGs."
        )
    return (
        f"# {title or spec.title()}\n\nExported from CNN Lab: the Keras code of this run, step by step. "
        f"{describe(spec, own, dataset_file)}{result}\n\nRun the cells in order. It needs {needs}: the lab's "
        "requirements.txt."
    )


def _data_intro(own: list[str] | None, dataset_file: str) -> str:
    """The data section's text: Fashion-MNIST, or the learner's zip and the lab's split of it."""
    return (
        "## Prepare the data\n\nFashion-MNIST: 28x28 grayscale pictures of clothes in 10 classes, read where the "
        "lab reads them (downloaded by Keras if no copy is found)."
        if own is None
        else f"## Prepare the data\n\nYour own images, from `{dataset_file}` beside this notebook: one folder per "
        f"class of 28x28 PNGs, after Predict's preprocessing. Then the lab's split: {TEST_SHARE:.0%} of each class "
        "held out for the test, then the validation part of the rest, with scikit-learn's `train_test_split` "
        "(stratified by class, the run's seed), so the notebook trains, validates and tests on the lab's images."
    )


def _fit_intro(spec: RunSpec) -> str:
    """The training section's text, with what early stopping does when the run uses it."""
    fit_intro = "## Train the model"
    if spec.recipe.early_stopping:
        fit_intro += (
            f"\n\nEarly stopping watches the validation loss: after {spec.recipe.patience} epoch"
            f"{'s' * (spec.recipe.patience != 1)} without a lower one it stops, and it puts back the weights of the "
            "epoch with the lowest validation loss (`restore_best_weights`)."
        )
    return fit_intro


def notebook_text(spec: RunSpec, **kwargs) -> str:
    """`notebook(spec, ...)` as the .ipynb file's text."""
    return nbformat.writes(notebook(spec, **kwargs))


def spec_from_arguments(args: argparse.Namespace) -> RunSpec:
    """The RunSpec the command line describes: the Training page's recipe, with the model's layers as options."""
    design = CNNConfig(
        conv_blocks=args.conv_blocks,
        filters=args.filters,
        kernel_size=args.kernel_size,
        padding=args.padding,
        pooling=args.pooling,
        pool_size=args.pool_size,
        dense_units=args.dense_units,
        dropout=args.dropout,
        l2=args.l2,
        augment_flip=args.flip,
        augment_shift=args.shift,
        augment_rotation=args.rotate,
        augment_zoom=args.zoom,
    )
    return RunSpec(
        architecture=None if args.model == "dense" else design,
        recipe=TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            optimizer=args.optimizer,
            stop_at_accuracy=args.stop_at_accuracy,
            seed=args.seed,
            early_stopping=args.early_stopping,
            patience=EARLY_STOPPING_PATIENCE if args.patience is None else args.patience,
        ),
        train_images=args.train_size,
        validation_split=args.validation_split,
        lr_decay=args.lr_decay,
    )


def parser() -> argparse.ArgumentParser:
    recipe, design = TrainConfig(), COURSE_CNN
    cli = argparse.ArgumentParser(
        prog="python -m models.training.export",
        description="Write a run of CNN Lab as a Jupyter notebook: its data, Keras model, recipe and seed, "
        "evaluation and plots. The options are the Training page's.",
    )
    cli.add_argument("--output", type=Path, required=True, help="the .ipynb file to write")
    cli.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default="course",
        help="course: the course CNN, changed by the design options below; dense: the dense baseline (no conv layers)",
    )
    cli.add_argument("--train-size", type=int, default=RunSpec().train_images, help="the first N training images")
    cli.add_argument(
        "--validation-split", type=float, default=RunSpec().validation_split, help="the last part of them validates"
    )
    cli.add_argument("--epochs", type=int, default=recipe.epochs)
    cli.add_argument("--batch-size", type=int, default=recipe.batch_size)
    cli.add_argument("--optimizer", choices=OPTIMIZER_NAMES, default=recipe.optimizer)
    cli.add_argument("--learning-rate", "--lr", type=float, default=recipe.learning_rate)
    cli.add_argument("--lr-decay", type=float, default=1.0, help="learning rate multiplied by this after every epoch")
    cli.add_argument("--stop-at-accuracy", type=float, default=None, help="stop when training accuracy reaches this")
    cli.add_argument("--seed", type=int, default=recipe.seed)
    layers = cli.add_argument_group("design (the Architecture page's builder; the defaults are the course CNN)")
    layers.add_argument("--conv-blocks", type=int, default=design.conv_blocks, help="conv (+ pool) blocks, 0-6")
    layers.add_argument("--filters", type=int, default=design.filters)
    layers.add_argument("--kernel-size", type=int, default=design.kernel_size)
    layers.add_argument("--padding", choices=("valid", "same"), default=design.padding)
    layers.add_argument("--pooling", choices=("max", "avg", "none"), default=design.pooling)
    layers.add_argument("--pool-size", type=int, default=design.pool_size)
    layers.add_argument("--dense-units", type=int, default=design.dense_units)
    fight = cli.add_argument_group(
        "against overfitting (the Training page's ?shift=1&rotate=1&zoom=1&flip=1&dropout=&l2=&early=1)"
    )
    fight.add_argument("--dropout", type=float, default=design.dropout, help="dropout rate after the dense layer")
    fight.add_argument("--l2", type=float, default=design.l2, help="L2 weight decay of every conv and dense kernel")
    fight.add_argument("--shift", action="store_true", help="augment: random shift (RandomTranslation)")
    fight.add_argument("--rotate", action="store_true", help="augment: random rotation (RandomRotation)")
    fight.add_argument("--zoom", action="store_true", help="augment: random zoom (RandomZoom)")
    fight.add_argument("--flip", action="store_true", help="augment: random left-right flip (RandomFlip)")
    fight.add_argument(
        "--early-stopping", action="store_true", help="stop when the validation loss stops falling; best weights back"
    )
    fight.add_argument(
        "--patience",
        type=int,
        default=None,
        help=f"epochs without a lower validation loss before early stopping stops (default {EARLY_STOPPING_PATIENCE})",
    )
    return cli


CNN_ONLY = ("dropout", "l2", "shift", "rotate", "zoom", "flip")  # options the dense baseline does not take


def argument_errors(args: argparse.Namespace) -> str | None:
    """What the options cannot mean together, in words (the spec's own checks come after), or None."""
    if args.stop_at_accuracy is not None and not 0.0 < args.stop_at_accuracy <= 1.0:
        return f"Stop-at accuracy must be in (0, 1], got {args.stop_at_accuracy}."
    if args.model == "dense":
        given = [f"--{name}" for name in CNN_ONLY if getattr(args, name)]
        if given:
            return f"{', '.join(given)}: augmentation, dropout and L2 apply to CNNs; the dense baseline takes none."
    if args.patience is not None and not args.early_stopping:
        return "--patience is early stopping's: add --early-stopping."
    return None


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if (problem := argument_errors(args)) is not None:
        cli.error(problem)
    spec = spec_from_arguments(args)
    try:
        text = notebook_text(spec)
    except (ConfigError, ValueError) as error:
        cli.error(str(error))
    try:
        args.output.write_text(text)
    except OSError as error:
        cli.error(f"cannot write {args.output}: {error.strerror or error}")
    print(f"wrote {args.output}: {spec.title()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
