"""The C++ pools (plugins/ops/csrc/pool.cpp) and the torch-view formulas they replace, both
against torch's own NCHW pooling kernels."""
import pytest
import torch
import torch.nn.functional as F

from plugins.ops import avg_pool2x2, max_pool3x3s2
from plugins.ops.native import native_pool, pool_library

SHAPES = [(1, 64, 112, 112), (2, 5, 13, 11), (1, 3, 2, 7), (2, 4, 9, 2), (1, 2, 1, 5),
          (1, 2, 4, 1), (3, 7, 6, 8)]


def _inputs(shape, seed=0):
    """Random values; values with ties, signed zeros, infinities and NaN; signed zeros only;
    all -inf (the maximum's start value)."""
    g = torch.Generator().manual_seed(seed)
    awkward = torch.tensor([0.0, -0.0, 1.0, -1.0, 2.0, float('inf'), float('-inf'),
                            float('nan')])[torch.randint(0, 8, shape, generator=g)]
    zeros = torch.where(torch.rand(shape, generator=g) < 0.5, -0.0, 0.0)
    return [torch.randn(shape, generator=g), awkward, zeros, torch.full(shape, float('-inf'))]


def _assert_same(y, ref):
    """Equal shapes, NaN at the same places, the same bits elsewhere (the sign of zeros too)."""
    assert y.shape == ref.shape
    assert torch.equal(y.isnan(), ref.isnan())
    keep = ~ref.isnan()
    assert torch.equal(y[keep].view(torch.int32), ref[keep].view(torch.int32))


@pytest.fixture(params=['native', 'views'])
def path(request, monkeypatch):
    """Run a test with the C++ pools and again with the torch-view formulas."""
    if request.param == 'views':
        monkeypatch.setenv('PLUGINS_OPS_NATIVE', '0')
    else:
        assert pool_library() is not None, 'the C++ pools did not build'
    return request.param


@pytest.mark.parametrize('threads', [1, 2])
@pytest.mark.parametrize('shape', SHAPES)
def test_stem_max_pool_is_torchs(shape, threads, path):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for x in _inputs(shape):
            with torch.no_grad():
                _assert_same(max_pool3x3s2(x), F.max_pool2d(x, 3, 2, 1))
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize('shape', [s for s in SHAPES if s[2] % 2 == 0 and s[3] % 2 == 0])
def test_avg_pool2x2_is_torchs(shape, path):
    for x in _inputs(shape):
        with torch.no_grad():
            _assert_same(avg_pool2x2(x), F.avg_pool2d(x, 2, 2))


def test_native_pool_declines_what_it_does_not_compute():
    x = torch.randn(1, 3, 6, 6)
    assert native_pool('avg2x2', torch.randn(1, 3, 5, 6)) is None  # odd height
    assert native_pool('max3x3s2', x.double()) is None
    assert native_pool('max3x3s2', x.transpose(2, 3)) is None  # not contiguous
    assert native_pool('max3x3s2', x.requires_grad_()) is None  # autograd records
    assert native_pool('max3x3s2', torch.randn(3, 6, 6)) is None


def test_native_pool_names_the_allowed_pools():
    with pytest.raises(ValueError, match=r"'min2x2'.*avg2x2.*max2x2.*max3x3s2"):
        native_pool('min2x2', torch.randn(1, 1, 4, 4))


def test_without_a_compiler_the_views_are_used(monkeypatch, tmp_path):
    from plugins.deploy import build
    from plugins.ops import native
    monkeypatch.setattr(native._library, '_lib', None)
    monkeypatch.setattr(native._library, '_failed', False)
    monkeypatch.setattr(build, '_build_dirs', lambda: [tmp_path])  # no prebuilt library
    monkeypatch.setenv('CXX', 'no-such-compiler-xyz')
    with pytest.warns(UserWarning, match=r'plugins\.ops pools: C\+\+ library unavailable'):
        assert pool_library() is None
    assert pool_library() is None  # warned once, not retried
    x = _inputs((1, 4, 10, 8))[1]
    with torch.no_grad():
        _assert_same(max_pool3x3s2(x), F.max_pool2d(x, 3, 2, 1))
        _assert_same(avg_pool2x2(x), F.avg_pool2d(x, 2, 2))
