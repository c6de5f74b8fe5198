"""Shared fixtures of the pose tests: registers the plugins once, keeps torch single-threaded."""
import pytest
import torch
from mmengine.registry import MODELS

import plugins  # noqa: F401


@pytest.fixture
def binary_conv():
    """Factory of the binary conv config ``dict(type='BinaryConv2d', **kw)``.

    ``import plugins`` registers ``BinaryConv2d``; if it does not, the tests that use it fail
    (they never skip).
    """
    assert MODELS.get('BinaryConv2d') is not None, \
        'BinaryConv2d is not registered in mmengine MODELS by `import plugins`'
    return lambda **kw: dict(type='BinaryConv2d', **kw)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)
