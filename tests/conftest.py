"""Shared fixtures: the real Fashion-MNIST files, loaded once."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from models.data import load_fashion_mnist  # noqa: E402


@pytest.fixture(scope="session")
def fashion():
    """((x_train, y_train), (x_test, y_test)) from the real IDX files."""
    return load_fashion_mnist()
