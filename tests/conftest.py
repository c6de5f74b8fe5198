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

#: Real sample data (MMPose's test data), beside the project; see plugins/datasets/sample_data.py.
from plugins.datasets.sample_data import (missing_sample_message, sample_data_required,  # noqa
                                          sample_data_root)

SHARED_DATA = sample_data_root()


def require_sample(*parts: str) -> str:
    """The path ``$SAMPLE_DATA_ROOT/<parts>``; if it does not exist, skip the calling test with
    a reason naming the path and the variables, or fail it when ``REQUIRE_SAMPLE_DATA=1``."""
    path = osp.join(sample_data_root(), *parts)
    if not osp.exists(path):
        if sample_data_required():
            pytest.fail(missing_sample_message(path), pytrace=False)
        pytest.skip(missing_sample_message(path))
    return path


@pytest.fixture(scope='session')
def sample_path():
    """``sample_path('300w', 'test_300w.json')``: see :func:`require_sample`."""
    return require_sample


@pytest.fixture(scope='session')
def shared_data() -> str:
    return require_sample()


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool('sr/benchmark_seeds.py')``: a script under tools/ loaded as a module (the
    tools are scripts, not a package)."""
    import importlib.util

    def load(relpath: str):
        name = 'tool_' + relpath[:-3].replace('/', '_')
        spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, 'tools', relpath))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


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
