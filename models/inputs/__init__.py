"""What goes into a network, without TensorFlow: Fashion-MNIST, pictures, preprocessing, samples, a learner's data.

Public API: `load_fashion_mnist` (fashion_mnist.py: the local IDX files), `load_image` and `ImageError`
(images.py: uploaded files decoded to arrays in [0, 1]); preprocess.py (any picture to the 28x28 input, step by
step), samples.py (bundled sample images) and own_data.py (a zip of class folders read safely) are imported from
their modules.
"""

from models.inputs.fashion_mnist import load_fashion_mnist
from models.inputs.images import ImageError, load_image

__all__ = ["ImageError", "load_fashion_mnist", "load_image"]
