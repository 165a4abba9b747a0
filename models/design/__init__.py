"""Networks as designs, without TensorFlow: builder configs, layer tables, Keras code as text, receptive fields,
and the shipped models' files and cards.

Public API: `CNNConfig` (config.py: a variant and its shapes), `layer_table` (analysis.py: every layer's shape,
parameters, multiply-accumulates and memory); keras_code.py, receptive_field.py and card.py are imported from
their modules (their main functions share the modules' names).
"""

from models.design.analysis import layer_table
from models.design.config import CNNConfig

__all__ = ["CNNConfig", "layer_table"]
