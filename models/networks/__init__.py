"""TensorFlow's side: the course networks in Keras and the code that trains them.

Modules (imported from the module, never re-exported here, so importing this package loads no TensorFlow):
zoo.py (`course_cnn`, `course_dnn`, loading a saved model safely), train.py (the training core and `python -m
models.networks.train`), worker.py (one training job in a process of its own: `python -m models.networks.worker`)
and augmentation.py (the training job's augmentation, for a preview).
"""
