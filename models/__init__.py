"""The network's side of CNN Lab: code in subpackages by concern, the shipped model files here in one folder.

- `models.ops`: the NumPy sliding-window maths (output sizes, convolution, pooling, named kernels, receptive fields).
- `models.inputs`: what goes into a network (Fashion-MNIST, uploaded pictures, preprocessing, samples, own data).
- `models.design`: networks as designs (configs, layer tables, Keras code, the course models, model cards).
- `models.training`: training jobs (recipes, the worker, the queue, runs, notebook export) and `executors`.
- `models.explain`: looking inside a trained model (activations, attribution, fooling, robustness, neighbours).
- `models.uploaded`: a learner's own .keras file, judged, tried in a process of its own, and stored.
- `models.serving`: what the shared server keeps (the class store, disk quotas, the sweep, heavy work apart).

`SHIPPED` is this folder, where `fashion_cnn.keras`, its card and its precomputed arrays live; `ROOT` is the
project's folder (the working directory of child processes).
"""

from pathlib import Path

SHIPPED = Path(__file__).resolve().parent
ROOT = SHIPPED.parent

__all__ = ["ROOT", "SHIPPED"]
