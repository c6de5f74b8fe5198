"""oneDNN's int8 convolution as the exact forward of a binary convolution
(``plugins.binary.int8_conv``): bit for bit the float convolution of the same +-1 values times
the channel factor, over random shapes and geometries, up to sums far beyond int8 and bf16."""
import pytest
import torch
import torch.nn.functional as F

from plugins.binary.int8_conv import _ops, _probe, exact_sign_conv, int8_conv_available

needs_int8 = pytest.mark.skipif(not int8_conv_available(),
                                reason='no exact oneDNN int8 convolution in this torch build')


@pytest.mark.skipif(_ops() is None or not torch.backends.mkldnn.is_available(),
                    reason='this torch build has no oneDNN int8 convolution op')
def test_the_probe_passes_where_the_op_exists():
    """Where torch has the op, a wrong result must fail here rather than silently turn the int8
    path (and its tests) off."""
    assert _probe()


def _signs(shape, p_plus, g):
    return torch.where(torch.rand(shape, generator=g) < p_plus, 1.0, -1.0)


@needs_int8
@pytest.mark.parametrize('seed', range(16))
def test_random_shapes_equal_the_float_convolution_bit_for_bit(seed):
    g = torch.Generator().manual_seed(seed)
    r = lambda lo, hi: int(torch.randint(lo, hi + 1, (1, ), generator=g))  # noqa: E731
    groups = [1, 1, 2, 4][r(0, 3)]
    c, o = groups * r(1, 24), groups * r(1, 12)
    kh, kw = [1, 3, 5][r(0, 2)], [1, 3, 5][r(0, 2)]  # square or not
    stride, dilation = (r(1, 2), r(1, 2)), (r(1, 2), r(1, 2))
    padding = (r(0, kh), r(0, kw))
    n, h, w = r(1, 3), r(kh * 2, 14), r(kw * 2, 14)
    p_plus = [0.5, 0.9, 1.0][r(0, 2)]  # 1.0: every sum at its largest magnitude
    xb, wb = _signs((n, c, h, w), p_plus, g), _signs((o, c // groups, kh, kw), p_plus, g)
    alpha = None if seed % 3 == 0 else torch.rand(o, generator=g) + 0.25
    bias = torch.randn(o, generator=g) if seed % 2 else None
    geo = (stride, padding, dilation, groups)
    ref = F.conv2d(xb, wb, None, *geo)
    if alpha is not None:
        ref = ref * alpha.view(-1, 1, 1)
    if bias is not None:
        ref = ref + bias.view(-1, 1, 1)
    got = exact_sign_conv(xb, wb, alpha, bias, *geo)
    assert got.shape == ref.shape and got.is_contiguous()
    assert torch.equal(got, ref)


@needs_int8
def test_sums_of_thousands_of_terms_stay_exact():
    """512 channels x 3x3: sums up to 4608, beyond bf16's and fp16's exact integers."""
    xb = torch.ones(1, 512, 6, 6)
    xb[:, :, 0, 0] = -1
    wb = torch.ones(3, 512, 3, 3)
    wb[1] = -1
    ref = F.conv2d(xb, wb, None, 1, 1)
    got = exact_sign_conv(xb, wb, None, None, (1, 1), (1, 1), (1, 1), 1)
    assert ref.abs().max() == 4608 and torch.equal(got, ref)
