"""Shared by the tests of plugins/ops: the exact comparison every C++ pass is held to."""
import pytest
import torch


def _assert_same(y: torch.Tensor, ref: torch.Tensor) -> None:
    """Equal shapes, NaN at the same places, the same bits elsewhere (the sign of zeros too)."""
    assert y.shape == ref.shape
    assert torch.equal(y.isnan(), ref.isnan())
    keep = ~ref.isnan()
    assert torch.equal(y[keep].view(torch.int32), ref[keep].view(torch.int32))


@pytest.fixture
def assert_same():
    return _assert_same
