"""The Week 3 tour: the story's steps, each with its text and a predict-then-reveal question.

Every number in a question or answer is computed from the lab's own shape and parameter arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from models.design.analysis import DENSE_BASELINE, layer_table_for_config, totals
from models.design.config import COURSE_CNN, INPUT_SHAPE, plan, shape_text
from models.design.receptive_field import receptive_field
from models.ops import convolution, pooling
from models.ops.kernels import KERNELS
from models.training.recipes import RunSpec, TrainConfig

TOUR_KERNEL = "Course: vertical lines"
OTHER_KERNEL = "Course: horizontal lines"


# The short live training run of the training step (the Training page's job, with these settings).
TOUR_RUN = RunSpec(COURSE_CNN, recipe=TrainConfig(epochs=2, batch_size=32), train_images=5_000, validation_split=0.1)


@dataclass(frozen=True)
class Step:
    key: str  # which live widgets the tour page shows
    page: str  # url_path of the lesson page those widgets come from
    title: str
    text: str
    question: str
    answer: str


def steps() -> list[Step]:
    return [why_cnns(), a_filter(), pooling_step(), course_model(), training(), feature_maps(), beyond_week_3()]


def why_cnns() -> Step:
    dense_rows = layer_table_for_config(DENSE_BASELINE)
    first = next(row for row in dense_rows if row.kind == "Dense")
    pixels = math.prod(INPUT_SHAPE)
    conv = sum(row.params for row in layer_table_for_config(COURSE_CNN) if row.kind == "Conv2D")
    dense_total = totals(dense_rows).params
    return Step(
        "why",
        "architecture",
        "Why CNNs over the dense network?",
        f"Last week's dense network flattens each 28x28 image into {pixels} numbers and gives each of its "
        f"{first.output_shape[0]} units its own weight for every pixel, so a pattern learned in one place is unknown "
        "in another. A CNN slides small filters over the image instead, reusing the same few weights at every "
        "position. Below: both networks' parameters, compute and test accuracy, and how each copes with test "
        "images moved a few pixels.",
        f"How many weights and biases does the dense network's first layer (Dense {first.output_shape[0]} on "
        f"{pixels} pixels) have?",
        f"{first.param_formula.replace('*', ' x ')}: {first.params / dense_total:.0%} of the dense network's "
        f"{dense_total:,} parameters. The course CNN's two conv layers together have only {conv:,}.",
    )


def a_filter() -> Step:
    weights = KERNELS[TOUR_KERNEL].weights
    height, width = INPUT_SHAPE[:2]
    size = weights.shape[0]
    out_h, out_w = convolution.output_shape(height, width, size)
    return Step(
        "filter",
        "filters",
        "A filter finds vertical and horizontal lines",
        f"A filter is a small grid of weights. At each position it multiplies the {size * size} pixels under it by "
        f"its weights and adds the products up: one output pixel. '{TOUR_KERNEL}' has {_column(weights, 0)} in its "
        f"left column and {_column(weights, -1)} in its right, so it responds where brightness changes from left to "
        f"right; pick '{OTHER_KERNEL}' to see horizontal lines instead.",
        f"The {size}x{size} filter slides over a {height}x{width} item without padding ('valid'). "
        "What size is the output?",
        f"{out_h}x{out_w}: the filter fits in {out_w} positions across and {out_h} down "
        f"({convolution.shape_formula(height, width, size)}).",
    )


def _column(weights, index: int) -> str:
    return ", ".join(f"{value:+g}" for value in weights[:, index])


def pooling_step() -> Step:
    height, width = convolution.output_shape(*INPUT_SHAPE[:2], KERNELS[TOUR_KERNEL].weights.shape[0])
    pooled = pooling.output_shape(height, width)
    stats = pooling.compression((height, width), pooled)
    return Step(
        "pooling",
        "pooling",
        "Pooling quarters the map",
        "2x2 max pooling cuts a feature map into 2x2 windows and keeps the largest value of each. Height and width "
        "halve, so a quarter of the values remain: the strongest responses.",
        f"2x2 max pooling (stride 2) of the {height}x{width} map from the filter step: what shape comes out, and how "
        f"many of its {stats.input_pixels} values are kept?",
        f"{shape_text(pooled)} ({pooling.shape_formula(height)}): {stats.output_pixels} values, "
        f"{stats.fraction_kept:.0%}.",
    )


def course_model() -> Step:
    stages = {stage.name: stage for stage in plan(COURSE_CNN)}
    conv2, pool2, flat = stages["conv2"], stages["pool2"], stages["flatten"]
    params = totals(layer_table_for_config(COURSE_CNN)).params
    return Step(
        "model",
        "architecture",
        "The course model: shapes and parameters",
        f"The course CNN does both steps twice: {COURSE_CNN.filters} filters of "
        f"{COURSE_CNN.kernel_size}x{COURSE_CNN.kernel_size}, then {COURSE_CNN.pool_size}x{COURSE_CNN.pool_size} max "
        "pooling. Flatten lines the last maps up as one vector for two Dense layers that pick the class. The table "
        f"gives every layer's output shape and parameters ({params:,} in all), with the arithmetic.",
        "What shape comes out of the second pooling layer?",
        f"{shape_text(pool2.shape)}: conv2 gives {shape_text(conv2.shape)}, and "
        f"{pooling.shape_formula(conv2.shape[0], COURSE_CNN.pool_size)} (the last row and column are dropped). "
        f"Flatten makes it {flat.shape[0]:,} numbers.",
    )


def training() -> Step:
    run, batch = TOUR_RUN, TOUR_RUN.recipe.batch_size
    full, rest = divmod(run.fitted_images, batch)
    last = f"{full} full batches of {batch} and a last one of {rest}" if rest else f"{full} full batches of {batch}"
    return Step(
        "training",
        "training",
        "Training the model",
        "Training shows the network images with their labels, measures how wrong its predictions are (the loss) "
        "and nudges every weight a little to reduce it, one batch at a time. Press Train for a short real run: the "
        f"course CNN, {run.recipe.epochs} epochs on the first {run.train_images:,} training images "
        f"({run.validation_images} held out for validation), batch {batch}.",
        f"How many batches, and so weight updates, make one epoch of these {run.fitted_images:,} images?",
        f"ceil({run.fitted_images:,} / {batch}) = {run.steps_per_epoch()}: {last}.",
    )


def feature_maps() -> Step:
    conv1 = next(stage for stage in plan(COURSE_CNN) if stage.kind == "Conv2D")
    height, width, count = conv1.shape
    return Step(
        "maps",
        "inspect",
        "What the filters see: feature maps",
        f"Each of conv1's {count} filters makes its own feature map, bright where its pattern appears. Below, the "
        "shipped model's maps of the course notebook's three ankle boots show one filter number in every layer "
        "(different filters that share a number). Each row's label says what the network answered: where it "
        "names another class, the network got that boot wrong, and its maps show what it saw instead.",
        f"For one {INPUT_SHAPE[0]}x{INPUT_SHAPE[1]} image, how many feature maps does conv1 make, and what size is "
        "each?",
        f"{count} maps of {height}x{width} ({shape_text(conv1.shape)}): one per filter; a "
        f"{COURSE_CNN.kernel_size}x{COURSE_CNN.kernel_size} filter without padding trims one pixel each side.",
    )


def beyond_week_3() -> Step:
    stages = {stage.name: stage for stage in plan(COURSE_CNN)}
    channels, k = stages["pool1"].shape[-1], COURSE_CNN.kernel_size
    conv1, pool1, conv2 = (receptive_field(COURSE_CNN, name) for name in ("conv1", "pool1", "conv2"))
    return Step(
        "deeper",
        "deeper",
        "Beyond week 3 (optional): inside the network",
        f"conv1 reads one channel, the image. Each conv2 filter reads all {channels} maps of pool1: it is a "
        f"{k}x{k}x{channels} block, one {k}x{k} slice per map, and adds the {channels} results, "
        f"{k * k * channels} multiplications per output pixel. Stacking layers also widens what a unit sees: below, "
        "the green square is every input pixel one unit depends on (its receptive field), and that unit's gradient "
        "is exactly 0 outside it. The Deeper page also shows what each filter responds to most and how little it "
        "takes to fool the network.",
        f"A conv1 unit sees {conv1[0]}x{conv1[0]} pixels. conv2 reads a {k}x{k} window of pool1's map, whose "
        f"neighbouring units are {pool1[1]} input pixels apart and each see {pool1[0]}x{pool1[0]}. How many input "
        "pixels wide is what a conv2 unit sees?",
        f"{conv2[0]}x{conv2[0]}: r = {pool1[0]} + ({k} - 1) x {pool1[1]} = {conv2[0]}. Each step of the window "
        f"moves {pool1[1]} pixels on the image.",
    )
