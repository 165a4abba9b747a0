"""A run as a Jupyter notebook to take home, written as text (no TensorFlow here): `notebook(spec)`, and
`python -m models.export --model course --epochs 1 --train-size 2000 --output run.ipynb`.

The notebook reads as a keras-io example, in named steps: setup, data (Fashion-MNIST found as models.data finds
it, the run's subset, scaling and validation split), the model (models.keras_code's code, the Architecture
page's), compile and fit (the run's recipe and seed), evaluate, learning curves and a confusion matrix (Plotly and
scikit-learn, both in requirements.txt). It needs nothing but the project's requirements and none of its code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import numpy as np
from nbformat import v4

from models.analysis import DENSE_BASELINE  # the layers of models.zoo.course_dnn
from models.config import COURSE_CNN, CNNConfig, ConfigError
from models.data import CLASS_NAMES, DEBIAN_DIR, FILES
from models.keras_code import keras_code
from models.recipes import OPTIMIZER_NAMES, RunSpec, TrainConfig, epoch_count, hand_picked_kernels

OPTIMIZER_CLASSES = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}  # RunSpec's names -> keras.optimizers
MODEL_CHOICES = ("course", "dense")

SETUP = """\
import gzip
import os
from pathlib import Path

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
matrix = confusion_matrix(y_test, predicted)
figure = px.imshow(
    matrix,
    x=class_names,
    y=class_names,
    text_auto=True,
    color_continuous_scale="Blues",
    labels={"x": "predicted", "y": "true", "color": "images"},
    title="Confusion matrix: the 10,000 test images",
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


def describe(spec: RunSpec) -> str:
    """The run in words, for the title cell."""
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
    return (
        f"**Model**: {spec.model_label()}{' (first layer hand-picked and frozen)' if spec.hand_picked else ''}. "
        f"**Data**: the first {spec.train_images:,} Fashion-MNIST training images ({held}); tested on the 10,000 "
        f"test images. **Recipe**: {recipe.optimizer}, learning rate {recipe.learning_rate!r}{decay}, batch "
        f"{recipe.batch_size}, {recipe.epochs} epoch{'s' * (recipe.epochs != 1)}, seed {recipe.seed}.{stop}"
    )


def data_code(spec: RunSpec) -> str:
    """The run's slice of the training set, scaled to [0, 1] with a channel axis, and its validation split."""
    lines = [
        LOAD,
        f"x_train, y_train = x_train[:{spec.train_images}], y_train[:{spec.train_images}]  # the first "
        f"{spec.train_images:,} training images",
        "# Scale images to the [0, 1] range and give them one channel: (N, 28, 28, 1)",
        'x_train = np.expand_dims(x_train.astype("float32") / 255, -1)',
        'x_test = np.expand_dims(x_test.astype("float32") / 255, -1)',
    ]
    if spec.validation_images:
        n = spec.validation_images
        lines += [
            f"# The last {n:,} of them validate after every epoch; the model trains on the rest",
            f"x_val, y_val = x_train[-{n}:], y_train[-{n}:]",
            f"x_train, y_train = x_train[:-{n}], y_train[:-{n}]",
            'print("validation:", x_val.shape[0], "images")',
        ]
    lines += ['print("training:", x_train.shape[0], "images; test:", x_test.shape[0], "images")']
    return "\n".join(lines) + "\n"


def hand_picked_code() -> str:
    """Set the first conv layer to the classic kernels (models.recipes.hand_picked_kernels) and freeze it."""
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
    as models.train.train and models.worker apply them)."""
    recipe = spec.recipe
    compile_cell = (
        f"optimizer = keras.optimizers.{OPTIMIZER_CLASSES[recipe.optimizer]}(learning_rate={recipe.learning_rate!r})\n"
        'model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])\n'
    )
    before: list[str] = []
    callbacks: list[str] = []
    if spec.lr_decay != 1.0:
        callbacks.append(
            "keras.callbacks.LearningRateScheduler("
            f"lambda epoch, rate: {recipe.learning_rate!r} * {spec.lr_decay!r}**epoch)"
        )
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
    arguments = [
        "train_batches",
        f"epochs={recipe.epochs}",
        *(["validation_data=(x_val, y_val)"] if spec.validation_images else []),
        *([f"callbacks=[{', '.join(callbacks)}]"] if callbacks else []),
        "shuffle=False",
    ]
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


def notebook(spec: RunSpec, *, title: str | None = None, test_accuracy: float | None = None) -> nbformat.NotebookNode:
    """The run `spec` as a notebook (nbformat 4): its title (default spec.title()), then the steps. `test_accuracy`
    is the lab's own result for this run, quoted in the title cell. ConfigError/ValueError if the spec cannot train."""
    spec.check()
    compile_cell, fit_cell = training_code(spec)
    result = (
        f"\n\nIn CNN Lab this run reached a test accuracy of {test_accuracy:.4f}. The notebook starts from the "
        "same weights and feeds the same batches in the same order, so on the same TensorFlow version it gives the "
        "same number; another CPU or version can change the last digits."
        if test_accuracy is not None
        else ""
    )
    md, code = v4.new_markdown_cell, v4.new_code_cell
    cells = [
        md(
            f"# {title or spec.title()}\n\nExported from CNN Lab: the Keras code of this run, step by step. "
            f"{describe(spec)}{result}\n\nRun the cells in order. It needs TensorFlow (Keras 3), NumPy, "
            "scikit-learn and Plotly: the lab's requirements.txt."
        ),
        md("## Setup"),
        code(SETUP.format(seed=spec.recipe.seed)),
        md(
            "## Prepare the data\n\nFashion-MNIST: 28x28 grayscale pictures of clothes in 10 classes, read where the "
            "lab reads them (downloaded by Keras if no copy is found)."
        ),
        code(data_code(spec)),
        md("## Build the model\n\n`keras.Input`, then the layers in order (the code the Architecture page shows)."),
        code(keras_code(architecture(spec))),
        *([md("The first layer: hand-picked kernels, frozen."), code(hand_picked_code())] if spec.hand_picked else []),
        code("model.summary()"),
        md("## Compile the model\n\nThe optimizer and its learning rate, the loss for integer labels, the metric."),
        code(compile_cell),
        md("## Train the model"),
        code(fit_cell),
        md("## Evaluate the trained model\n\nOn the 10,000 test images the model never trained on."),
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
        ),
        train_images=args.train_size,
        validation_split=args.validation_split,
        lr_decay=args.lr_decay,
    )


def parser() -> argparse.ArgumentParser:
    recipe, design = TrainConfig(), COURSE_CNN
    cli = argparse.ArgumentParser(
        prog="python -m models.export",
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
    layers.add_argument("--dropout", type=float, default=design.dropout)
    return cli


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.stop_at_accuracy is not None and not 0.0 < args.stop_at_accuracy <= 1.0:
        cli.error(f"Stop-at accuracy must be in (0, 1], got {args.stop_at_accuracy}.")
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
