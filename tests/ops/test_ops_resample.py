"""The hourglass's resampling helpers against torch's own max-pooling and interpolation, with
the C++ passes of plugins/ops/native.py and with the torch formulas they replace."""
import pytest
import torch
import torch.nn.functional as F

from plugins.ops.resample import max_pool2x2, upsample2x_add


@pytest.fixture(autouse=True, params=['native', 'views', 'views-2-threads'])
def path(request, monkeypatch):
    """Every test with the C++ passes (2 threads) and with the torch formulas
    (``PLUGINS_OPS_NATIVE=0``) at 1 and 2 threads."""
    if request.param.startswith('views'):
        monkeypatch.setenv('PLUGINS_OPS_NATIVE', '0')
    previous = torch.get_num_threads()
    torch.set_num_threads(2 if request.param != 'views' else 1)
    yield request.param
    torch.set_num_threads(previous)


def _awkward(shape, seed=0):
    """Values with many ties, signed zeros and a few NaNs."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-2, 3, shape, generator=g).float()
    zero = x == 0
    x[zero] = torch.where(torch.rand(int(zero.sum()), generator=g) < 0.5, -0.0, 0.0)
    x[torch.rand(shape, generator=g) < 0.01] = float('nan')
    return x


def _bits(t):
    return t.contiguous().view(torch.int32)


@pytest.mark.parametrize('shape', [(2, 37, 20, 22), (1, 256, 64, 64), (1, 3, 9, 7), (2, 5, 2, 3)])
def test_max_pool2x2_is_bit_identical_to_max_pool2d(shape):
    x = _awkward(shape)
    with torch.no_grad():
        assert torch.equal(_bits(max_pool2x2(x)), _bits(F.max_pool2d(x, 2, 2)))
    y = torch.randn(shape)  # random floats, and a channels-last input
    assert torch.equal(max_pool2x2(y), F.max_pool2d(y, 2, 2))
    cl = y.contiguous(memory_format=torch.channels_last)
    assert torch.equal(max_pool2x2(cl), F.max_pool2d(y, 2, 2))


def test_max_pool2x2_too_small_input_raises_like_max_pool2d():
    with torch.no_grad(), pytest.raises(RuntimeError):
        max_pool2x2(torch.zeros(1, 2, 1, 4))


def test_max_pool2x2_gradient_is_max_pool2d_gradient_on_ties():
    x = _awkward((2, 4, 8, 8)).nan_to_num(0.0).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    g = torch.randn(2, 4, 4, 4)
    max_pool2x2(x).backward(g)
    F.max_pool2d(x2, 2, 2).backward(g)
    assert torch.equal(x.grad, x2.grad)


@pytest.mark.parametrize('shape', [(2, 37, 10, 11), (1, 256, 32, 32), (1, 3, 1, 1)])
def test_upsample2x_add_is_bit_identical_to_interpolate_plus_add(shape):
    low = _awkward(shape, 1)
    n, c, h, w = shape
    skip = _awkward((n, c, 2 * h, 2 * w), 2)
    ref = skip + F.interpolate(low, scale_factor=2, mode='nearest')
    assert torch.equal(_bits(upsample2x_add(skip, low)), _bits(ref))
    ref = skip + F.interpolate(low, scale_factor=2, mode='bilinear', align_corners=False)
    assert torch.equal(_bits(upsample2x_add(skip, low, 'bilinear')), _bits(ref))


def test_upsample2x_add_gradients_match_interpolate():
    low, skip = torch.randn(2, 3, 5, 6, requires_grad=True), torch.randn(2, 3, 10, 12,
                                                                          requires_grad=True)
    low2, skip2 = (t.detach().clone().requires_grad_() for t in (low, skip))
    g = torch.randn(2, 3, 10, 12)
    upsample2x_add(skip, low).backward(g)
    (skip2 + F.interpolate(low2, scale_factor=2, mode='nearest')).backward(g)
    assert torch.equal(skip.grad, skip2.grad)
    torch.testing.assert_close(low.grad, low2.grad, rtol=1e-6, atol=1e-6)


def test_upsample2x_add_names_the_bad_shape():
    with pytest.raises(ValueError, match=r'skip must be \(1, 3, 8, 8\).*got \(1, 3, 8, 9\)'):
        upsample2x_add(torch.zeros(1, 3, 8, 9), torch.zeros(1, 3, 4, 4))


def test_hourglass_upsample2x_is_interpolate():
    from plugins.pose.hourglass import upsample2x
    x = _awkward((2, 5, 6, 7), 3)
    assert torch.equal(_bits(upsample2x(x, 'nearest')),
                       _bits(F.interpolate(x, scale_factor=2, mode='nearest')))
