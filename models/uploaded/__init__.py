"""A learner's own .keras model: judged from its config alone (config_check.py, no TensorFlow), loaded and tested
in a limited process of its own (trial.py, `python -m models.uploaded.trial`), and stored as one of their runs
(store.py: `store_upload`). Import from the module: trial.py loads TensorFlow.
"""
