"""The C++ pools (plugins/ops/csrc/pool.cpp) and the torch-view formulas they replace, both
against torch's own NCHW pooling kernels."""
import pytest
import torch
import torch.nn.functional as F

from plugins.ops import avg_pool2x2, max_pool3x3s2
from plugins.ops.native import native_pool, native_upsample2x_add, pool_library

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
def test_stem_max_pool_is_torchs(shape, threads, path, assert_same):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for x in _inputs(shape):
            with torch.no_grad():
                assert_same(max_pool3x3s2(x), F.max_pool2d(x, 3, 2, 1))
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize('shape', [s for s in SHAPES if s[2] % 2 == 0 and s[3] % 2 == 0])
def test_avg_pool2x2_is_torchs(shape, path, assert_same):
    for x in _inputs(shape):
        with torch.no_grad():
            assert_same(avg_pool2x2(x), F.avg_pool2d(x, 2, 2))


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


def test_without_a_compiler_the_views_are_used(monkeypatch, tmp_path, assert_same):
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
        assert_same(max_pool3x3s2(x), F.max_pool2d(x, 3, 2, 1))
        assert_same(avg_pool2x2(x), F.avg_pool2d(x, 2, 2))


# --- the hourglass's 2x2 max-pool and nearest upsampling + addition ---------------------------

HG_SHAPES = [(1, 256, 64, 64), (1, 256, 8, 8), (2, 5, 13, 11), (1, 3, 2, 7), (2, 4, 9, 2),
             (3, 7, 6, 33), (1, 1, 2, 2), (1, 2, 35, 17)]


def _nan(bits: int) -> float:
    """A float32 NaN with the given bit pattern (payload and sign)."""
    return torch.tensor([bits], dtype=torch.int32).view(torch.float32).item()


def _hg_inputs(shape, seed=0):
    """:func:`_inputs`, and values where each window holds ties, signed zeros, infinities and
    NaNs of different payloads and signs (which NaN stays shows torch's rule and order)."""
    g = torch.Generator().manual_seed(seed + 1)
    table = torch.tensor([0.0, -0.0, 1.0, 1.0, -1.0, float('inf'), float('-inf'),
                          _nan(0x7fc00001), _nan(0x7fc00123), _nan(-0x3fffff0)])
    return _inputs(shape, seed) + [table[torch.randint(0, 10, shape, generator=g)]]


def _bits_with_payloads(y, ref):
    """The same bits everywhere, NaN payloads included."""
    assert y.shape == ref.shape
    assert torch.equal(y.view(torch.int32), ref.view(torch.int32))


@pytest.fixture(params=['avx2', 'portable'])
def vector(request):
    """Run a test with the AVX2 paths (where the CPU has them) and with the portable loops."""
    lib = pool_library()
    assert lib is not None, 'the C++ pools did not build'
    before = lib.ops_set_vector(int(request.param == 'avx2'))
    yield request.param
    lib.ops_set_vector(before)


@pytest.mark.parametrize('shape', [(1, 3, 9, 16), (2, 2, 7, 17), (1, 3, 5, 18), (1, 2, 6, 33),
                                   (1, 2, 4, 40), (2, 64, 9, 112)])
def test_stem_max_pool_vector_and_portable_loops_are_torchs(shape, vector, assert_same):
    """Widths around the 16 inputs of one AVX2 step of the column maximum, odd and even."""
    for seed in range(2):
        for x in _inputs(shape, seed):
            with torch.no_grad():
                assert_same(max_pool3x3s2(x), F.max_pool2d(x, 3, 2, 1))


@pytest.fixture(params=[1, 2])
def threads(request):
    previous = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(previous)


@pytest.mark.parametrize('shape', HG_SHAPES)
def test_max_pool2x2_native_is_torchs_max_pool2d(shape, vector, threads):
    for x in _hg_inputs(shape):
        y = native_pool('max2x2', x)
        assert y is not None
        _bits_with_payloads(y, F.max_pool2d(x, 2, 2))


def test_max_pool2x2_native_over_random_shapes(vector, threads):
    g = torch.Generator().manual_seed(5)
    for _ in range(20):
        shape = tuple(int(v) for v in torch.randint(1, 4, (2,), generator=g)) + \
            tuple(int(v) for v in torch.randint(2, 40, (2,), generator=g))
        for x in _hg_inputs(shape, seed=int(torch.randint(0, 1000, (1,), generator=g))):
            _bits_with_payloads(native_pool('max2x2', x), F.max_pool2d(x, 2, 2))


def test_max_pool2x2_native_declines_inputs_too_small_for_torch():
    assert native_pool('max2x2', torch.randn(1, 2, 1, 4)) is None
    assert native_pool('max2x2', torch.randn(1, 2, 4, 1)) is None


def _upsample_add(skip, low):
    """The formula the hourglass replaces, computed by torch."""
    return skip + F.interpolate(low, scale_factor=2, mode='nearest')


@pytest.mark.parametrize('shape', [(1, 256, 32, 32), (1, 256, 4, 4), (2, 5, 13, 11),
                                   (1, 3, 1, 1), (3, 7, 3, 17), (1, 2, 9, 8)])
def test_upsample2x_add_native_is_torchs_formula(shape, vector, threads, assert_same):
    n, c, h, w = shape
    for i, low in enumerate(_inputs(shape, seed=1)):
        for skip in _inputs((n, c, 2 * h, 2 * w), seed=2 + i):
            out = native_upsample2x_add(skip, low)
            assert out is not None
            assert_same(out, _upsample_add(skip, low))


def test_upsample2x_add_native_keeps_nan_payloads_of_either_operand(vector, threads):
    """Where one operand is a NaN, the sum is that NaN (payload and sign kept)."""
    g = torch.Generator().manual_seed(3)
    low = torch.randn(2, 3, 5, 19, generator=g)
    skip = torch.randn(2, 3, 10, 38, generator=g)
    low[torch.rand(low.shape, generator=g) < 0.2] = _nan(0x7fc00042)
    skip[torch.rand(skip.shape, generator=g) < 0.2] = _nan(-0x3fffff0)
    both = skip.isnan() & F.interpolate(low, scale_factor=2, mode='nearest').isnan()
    skip[both] = 1.5
    _bits_with_payloads(native_upsample2x_add(skip, low), _upsample_add(skip, low))


def test_upsample2x_add_native_over_random_shapes(vector, threads, assert_same):
    g = torch.Generator().manual_seed(7)
    for _ in range(20):
        n, c, h, w = (int(v) for v in torch.randint(1, 30, (4,), generator=g) % torch.tensor(
            [3, 5, 30, 30]) + 1)
        low, skip = torch.randn(n, c, h, w, generator=g), torch.randn(n, c, 2 * h, 2 * w,
                                                                      generator=g)
        assert_same(native_upsample2x_add(skip, low), _upsample_add(skip, low))


def test_upsample2x_add_native_declines_what_it_does_not_compute():
    low, skip = torch.randn(1, 3, 4, 5), torch.randn(1, 3, 8, 10)
    assert native_upsample2x_add(skip, low) is not None
    assert native_upsample2x_add(skip[..., :9], low[..., :4]) is None  # not contiguous
    assert native_upsample2x_add(skip.double(), low.double()) is None
    assert native_upsample2x_add(skip, low.transpose(2, 3).contiguous()) is None  # shapes
    assert native_upsample2x_add(skip, low.requires_grad_()) is None  # autograd records
    with torch.no_grad():
        assert native_upsample2x_add(skip, low) is not None
    assert native_upsample2x_add(skip[0], low[0]) is None  # 3-D


def test_native_ops_honour_the_switch(monkeypatch):
    monkeypatch.setenv('PLUGINS_OPS_NATIVE', '0')
    assert native_pool('max2x2', torch.randn(1, 2, 4, 4)) is None
    assert native_upsample2x_add(torch.randn(1, 2, 4, 4), torch.randn(1, 2, 2, 2)) is None
