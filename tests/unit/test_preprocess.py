"""The Predict pipeline: each step against Pillow/SciPy, real test items round-trip, photos need inversion."""

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import cdist

from components.charts.predict import DISPLAY_SIDE, display_copy, steps_figure, top_k_figure
from models.explain.neighbours import NeighbourIndex, build_index, nearest, unit_rows
from models.inputs.fashion_mnist import CLASS_NAMES
from models.inputs.preprocess import (
    PreprocessError,
    background_to_black,
    border_level,
    grayscale,
    object_box,
    object_mask,
    pad_to_square,
    photo_like,
    preprocess,
    resize_to_bytes,
    should_invert,
)

ROUND_TRIP = np.arange(0, 10_000, 50)  # 200 test images spread over the set


@pytest.fixture(scope="module")
def model():
    from models.networks.zoo import load_model_file

    return load_model_file()


@pytest.fixture(scope="module")
def reference(model, fashion):
    """The shipped model's predictions on the untouched test images."""
    images = fashion[1][0][ROUND_TRIP]
    return model.predict(images[..., None] / 255.0, verbose=0).argmax(axis=1)


def predictions(model, images, **options) -> np.ndarray:
    pixels = np.stack([preprocess(image, **options).pixels for image in images])
    return model.predict(pixels[..., None] / 255.0, verbose=0).argmax(axis=1)


def test_grayscale_matches_pillow_luma():
    rgb = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float32) / 255.0
    assert np.abs(grayscale(rgb / 255.0) - pillow).max() <= 1 / 255 + 1e-6


def test_object_box_ignores_specks_and_rejects_a_blank_picture():
    gray = np.full((120, 90), 0.9, dtype=np.float32)
    gray[30:70, 20:50] = 0.2  # the item
    gray[5, 80] = gray[110, 3] = 0.0  # two specks of dust
    background = border_level(gray)
    assert background == pytest.approx(0.9)
    assert object_box(object_mask(gray, background)) == (30, 70, 20, 50)
    with pytest.raises(PreprocessError, match="nothing to classify"):
        preprocess(np.full((50, 60, 3), 0.7, dtype=np.float32))


def lanczos_matrix(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's Lanczos-3 resampling as a matrix, written from its documented rule (Resample.c): output pixel i
    is centred on input (i + 0.5) * scale; weights sinc(x) sinc(x / 3) over |x| < 3, x in output pixels,
    normalised to sum to 1."""
    scale = in_size / out_size
    stretch = max(scale, 1.0)
    matrix = np.zeros((out_size, in_size))
    for i in range(out_size):
        centre = (i + 0.5) * scale
        low = max(int(centre - 3 * stretch + 0.5), 0)
        high = min(int(centre + 3 * stretch + 0.5), in_size)
        x = (np.arange(low, high) - centre + 0.5) / stretch
        weights = np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)
        matrix[i, low:high] = weights / weights.sum()
    return matrix


@pytest.mark.parametrize(
    "shape, top, left",  # the offsets by hand: half the missing pixels before, the odd one after
    [((10, 4), 0, 3), ((4, 10), 3, 0), ((3, 8), 2, 0), ((8, 3), 0, 2), ((1, 6), 2, 0), ((5, 5), 0, 0)],
)
def test_pad_to_square_centres_the_content_on_the_fill(shape, top, left):
    content = np.arange(1, 1 + shape[0] * shape[1], dtype=np.float32).reshape(shape)  # no two pixels alike
    side = max(shape)
    expected = np.full((side, side), 0.25, dtype=np.float32)
    expected[top : top + shape[0], left : left + shape[1]] = content
    np.testing.assert_array_equal(pad_to_square(content, 0.25), expected)


def test_resize_to_bytes_is_a_lanczos_resize_rounded_to_bytes():
    assert np.all(resize_to_bytes(np.full((90, 90), 0.5, dtype=np.float32)) == 128)  # rint(127.5): weights sum to 1
    step = np.zeros((56, 56), dtype=np.float32)
    step[:, :28] = 1.0  # a light left half: far from the edge the result is exactly 255 / 0, whatever the ringing
    small = resize_to_bytes(step)
    assert small.shape == (28, 28) and small.dtype == np.uint8
    assert np.all(small[:, :11] == 255) and np.all(small[:, 17:] == 0)
    big = np.random.default_rng(1).random((90, 90), dtype=np.float32)
    matrix = lanczos_matrix(90, 28)
    reference = np.rint(np.clip(matrix @ big @ matrix.T, 0, 1) * 255)
    difference = np.abs(resize_to_bytes(big).astype(int) - reference)
    assert difference.max() <= 1 and np.mean(difference > 0) < 0.01  # float rounding at .5 only
    item = np.random.default_rng(2).integers(0, 256, (28, 28), dtype=np.uint8)
    assert np.array_equal(resize_to_bytes(item / 255.0), item)


def test_inversion_choice_and_background_to_black():
    assert should_invert(0.9, "auto") and not should_invert(0.1, "auto")
    assert should_invert(0.1, "on") and not should_invert(0.9, "off")
    with pytest.raises(ValueError):
        should_invert(0.5, "sometimes")
    gray = np.full((28, 28), 40, dtype=np.uint8)
    gray[8:20, 8:20] = 200
    stretched, level = background_to_black(gray)
    assert level == 40
    assert stretched[0, 0] == 0 and stretched[10, 10] == round((200 - 40) * 255 / 215)
    light = np.full((28, 28), 200, dtype=np.uint8)
    assert np.array_equal(background_to_black(light)[0], light)


def test_test_images_round_trip_with_the_shipped_model(model, fashion, reference):
    images = fashion[1][0][ROUND_TRIP]
    uncropped = [preprocess(image / 255.0, crop=False) for image in images]
    assert all(np.array_equal(result.pixels, image) for result, image in zip(uncropped, images))
    assert not any(result.inverted for result in uncropped)
    agreement = float(np.mean(predictions(model, images / 255.0) == reference))
    assert agreement >= 0.93, f"cropped test images keep only {agreement:.1%} of the predictions"  # measured 96%


def test_photo_like_items_need_inversion_cropping_and_a_black_background(model, fashion, reference):
    images, _ = fashion[1]
    photos = [photo_like(images[i], seed=int(i)) for i in ROUND_TRIP]
    assert all(preprocess(photo).inverted for photo in photos)
    agreement = {
        name: float(np.mean(predictions(model, photos, **options) == reference))
        for name, options in {
            "auto": {},
            "no inversion": {"invert": "off"},
            "no crop": {"crop": False},
            "gray background": {"darken": False},
        }.items()
    }
    assert agreement["auto"] >= 0.88, agreement  # measured 93.5%
    assert agreement["no inversion"] <= 0.5, agreement  # measured 28.5%
    assert agreement["no crop"] <= 0.3, agreement  # measured 7%
    assert agreement["gray background"] <= agreement["auto"] - 0.15, agreement  # measured 66.5%


def test_photo_like_is_a_light_picture_with_the_item_off_centre(fashion):
    item = fashion[1][0][0]
    photo = photo_like(item, canvas=(200, 260), position=(30, 120))
    assert photo.shape == (200, 260, 3) and photo.dtype == np.float32
    assert border_level(grayscale(photo)) > 0.8
    top, bottom, left, right = preprocess(photo).box
    assert 30 <= top and bottom <= 142 and 120 <= left and right <= 232
    with pytest.raises(ValueError):
        photo_like(item, position=(150, 0))
    with pytest.raises(ValueError):
        photo_like(item.astype(np.float32))


def test_every_step_is_shown_in_order(fashion):
    result = preprocess(photo_like(fashion[1][0][0]))
    assert [step.title for step in result.steps] == [
        "original",
        "grayscale",
        "crop to object",
        "pad to square",
        "resize to 28x28",
        "invert",
        "background to black",
        "scale to [0, 1]",
    ]
    assert np.array_equal(result.steps[-1].image, result.pixels / np.float32(255.0))
    figure = steps_figure(result.steps)
    assert len(figure.data) == 8 and figure.data[0].type == "image"
    assert [a.text for a in figure.layout.annotations][:2] == ["1. original<br>(200x260)", "2. grayscale<br>(200x260)"]
    reduced = display_copy(result.steps[0].image)
    assert max(reduced.shape[:2]) == DISPLAY_SIDE


def test_top_k_figure_lists_the_most_probable_classes_first():
    probabilities = np.array([0.05, 0.6, 0.0, 0.1, 0.0, 0.0, 0.2, 0.0, 0.05, 0.0])
    bars = top_k_figure(probabilities, CLASS_NAMES, 3).data[0]
    assert list(bars.y) == ["Trouser", "Shirt", "Dress"]
    assert list(bars.x) == [0.6, 0.2, 0.1]


def test_nearest_matches_scipy_cosine_distance():
    rng = np.random.default_rng(3)
    vectors = np.maximum(rng.normal(size=(300, 16)), 0).astype(np.float32)
    index = NeighbourIndex(np.arange(1000, 1300), np.zeros(300, dtype=np.int64), unit_rows(vectors), "dense", 0.0)
    query = np.maximum(rng.normal(size=16), 0)
    found, similarity = nearest(index, query, 5)
    distances = cdist(query[None], vectors, metric="cosine")[0]
    assert list(found) == list(1000 + np.argsort(distances)[:5])
    assert np.allclose(similarity, 1 - np.sort(distances)[:5], atol=1e-5)
    with pytest.raises(ValueError):
        nearest(index, np.ones(8))


def test_a_training_image_is_its_own_nearest_neighbour(model, fashion):
    (x_train, y_train), _ = fashion
    index = build_index(model, x_train, y_train, size=1_000)
    assert index.layer == "dense" and index.unit_vectors.shape == (1_000, 128)
    position = 17
    vector = index.unit_vectors[position] * 3.0  # length does not matter for cosine
    found, similarity = nearest(index, vector, 1)
    assert found[0] == index.indices[position] and similarity[0] == pytest.approx(1.0, abs=1e-5)
