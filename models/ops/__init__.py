"""The sliding-window maths, in NumPy/SciPy (no TensorFlow): output sizes, convolution, pooling, named kernels.

Public API: `convolve2d` (convolution.py: the cross-correlation Keras `Conv2D` computes, with kernel text and
shape formulas), `pool2d` (pooling.py: max, average and min pooling with Keras's padding rules), geometry.py (the
one output-size rule) and kernels.py (the classic kernels and which one a learned filter resembles).
"""

from models.ops.convolution import convolve2d
from models.ops.pooling import pool2d

__all__ = ["convolve2d", "pool2d"]
