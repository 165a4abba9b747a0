"""Data augmentation as the training job applies it, for a preview (TensorFlow): real training images through the
same Keras preprocessing layers models.networks.zoo.build_cnn puts in front of the model, called with training=True."""

from __future__ import annotations

import numpy as np

from models.design.config import AUGMENTATIONS
from models.networks.zoo import augmentation_layer


def augmented_copies(images: np.ndarray, names: tuple[str, ...], copies: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, 28, 28) images -> float32 (n, copies, 28, 28) in [0, 1]: each image `copies` times through the
    augmentation layers `names` (in models.design.config.AUGMENTATIONS order), each copy with its own random draw."""
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"Unknown augmentation {unknown[0]!r}; choose from {sorted(AUGMENTATIONS)}.")
    batch = np.repeat(images.astype(np.float32) / 255.0, copies, axis=0)[..., np.newaxis]
    for offset, name in enumerate(name for name in AUGMENTATIONS if name in names):
        batch = np.asarray(augmentation_layer(name, seed=seed + offset)(batch, training=True))
    return batch[..., 0].reshape(len(images), copies, *images.shape[1:])
