"""Shared test set-up: import the plugin package once and keep torch single-threaded."""
import os
import os.path as osp
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import plugins  # noqa: E402,F401

torch.set_num_threads(1)

#: Real sample data (MMPose's test data), beside the project.
from plugins.datasets.sample_data import sample_data_root  # noqa: E402

SHARED_DATA = sample_data_root()


@pytest.fixture(scope='session')
def shared_data() -> str:
    if not osp.isdir(SHARED_DATA):
        pytest.fail(f'sample data not found at {SHARED_DATA}')
    return SHARED_DATA


@pytest.fixture(scope='session')
def repo_root() -> str:
    return ROOT


@pytest.fixture(scope='session')
def mpii_tiny(tmp_path_factory) -> str:
    """A small embedded MPII-style data set, generated once per session."""
    from plugins.datasets import DATA_GENERATORS
    out = str(tmp_path_factory.mktemp('mpii_tiny'))
    DATA_GENERATORS.get('mpii_synthetic')(out, seed=0, num_train=192, num_val=32)
    return out
