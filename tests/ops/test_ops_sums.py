"""add3 (plugins/ops/sums.py) and its C++ pass against torch's left-to-right x + a + b."""
import pytest
import torch

from plugins.ops import add3
from plugins.ops.native import native_add3, pool_library


def _values(shape, seed):
    """Random floats of mixed magnitudes (so the order of the additions shows), with signed
    zeros, infinities and NaN."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) * 10.0 ** torch.randint(-8, 9, shape, generator=g)
    table = torch.tensor([0.0, -0.0, float('inf'), float('-inf'), float('nan')])
    odd = torch.rand(shape, generator=g) < 0.1
    x[odd] = table[torch.randint(0, 5, (int(odd.sum()),), generator=g)]
    return x


@pytest.fixture(params=['avx2', 'portable'])
def vector(request):
    lib = pool_library()
    assert lib is not None, 'the C++ pools did not build'
    before = lib.ops_set_vector(int(request.param == 'avx2'))
    yield
    lib.ops_set_vector(before)


@pytest.mark.parametrize('threads', [1, 2])
@pytest.mark.parametrize('shape', [(1, 256, 64, 64), (2, 3, 5, 7), (1,), (37,), (3, 17, 9)])
def test_add3_native_is_left_to_right(shape, threads, vector, assert_same):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x, a, b = (_values(shape, s) for s in range(3))
        y = native_add3(x, a, b)
        assert y is not None
        assert_same(y, (x + a) + b)
        if shape[0] > 1:  # the test can fail: a + b first differs somewhere
            assert not torch.equal(y.nan_to_num(0), (x + (a + b)).nan_to_num(0))
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize('native', ['1', '0'])
def test_add3_is_torchs_sum(native, monkeypatch, assert_same):
    monkeypatch.setenv('PLUGINS_OPS_NATIVE', native)
    x, a, b = (_values((2, 4, 6, 10), s) for s in range(3))
    assert_same(add3(x, a, b), x + a + b)
    assert_same(add3(x, a[:, :1], b), x + a[:, :1] + b)  # broadcasting: torch
    assert_same(add3(x, a.double(), b), x + a.double() + b)  # type promotion: torch


def test_add3_keeps_autograd():
    x, a, b = (torch.randn(2, 3, 4, requires_grad=True) for _ in range(3))
    add3(x, a, b).sum().backward()
    assert all(torch.equal(t.grad, torch.ones(2, 3, 4)) for t in (x, a, b))


def test_native_add3_declines_what_it_does_not_compute():
    x = torch.randn(2, 3, 4)
    assert native_add3(x, x, x) is not None
    assert native_add3(x, x[:, :1], x) is None  # broadcasting
    assert native_add3(x, x.transpose(1, 2).contiguous().transpose(1, 2), x) is None
    assert native_add3(x, x.double(), x) is None
    assert native_add3(x, x, x.clone().requires_grad_()) is None
