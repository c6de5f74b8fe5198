"""Shared fixtures of the pose tests: registers the plugins once, keeps torch single-threaded."""
import pytest
import torch

import plugins  # noqa: F401


@pytest.fixture
def binary_conv():
    """Factory of the binary conv config of issue 3; skips while it is not registered."""
    from mmengine.registry import MODELS
    if MODELS.get('BinaryConv2d') is None:
        pytest.skip('BinaryConv2d (plugins/binary) is not registered yet')
    return lambda **kw: dict(type='BinaryConv2d', **kw)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)
