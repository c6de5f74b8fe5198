import numpy as np
import pytest
import torch

import plugins  # noqa: F401
from plugins.binary import LearnedScale, XNORScale, build_scaling


def test_xnor_factor_is_mean_abs_per_channel():
    w = torch.randn(5, 3, 3, 3)
    s = XNORScale()(w)
    expected = torch.tensor([sum(abs(v) for v in w[o].flatten().tolist()) / 27 for o in range(5)])
    assert s.shape == (5, 1, 1)
    assert torch.allclose(s.flatten(), expected, atol=1e-6)


@pytest.mark.parametrize('shape,count', [('channel', 4), ('chw', 4 * 6 * 7), ('rank1', 4 + 6 + 7)])
def test_learned_shapes_param_count(shape, count):
    s = LearnedScale(4, shape, out_size=(6, 7))
    assert s.num_params() == count
    out = s(torch.randn(4, 2, 3, 3), (6, 7))
    assert out.shape == ((4, 1, 1) if shape == 'channel' else (4, 6, 7))


def test_rank1_is_outer_product():
    s = LearnedScale(3, 'rank1', out_size=(4, 5))
    with torch.no_grad():
        for p in s.parameters():
            p.normal_()
    a, b, c = s.alpha.tolist(), s.beta.tolist(), s.gamma.tolist()
    expected = torch.tensor([[[a[i] * b[j] * c[k] for k in range(5)] for j in range(4)]
                             for i in range(3)])
    assert torch.allclose(s(None, (4, 5)), expected, atol=1e-6)


def test_lazy_resolution_and_size_change_error():
    s = LearnedScale(3, 'chw')
    assert not s.resolved and s.num_params() == 0
    held = s.gamma
    s(None, (4, 4))
    assert s.gamma is held and s.gamma.shape == (3, 4, 4)
    with pytest.raises(ValueError, match=r'resolved for output size \(4, 4\).*\(5, 5\)'):
        s(None, (5, 5))


def test_lazy_checkpoint_round_trip():
    s = LearnedScale(3, 'rank1', out_size=(4, 5))
    with torch.no_grad():
        s.beta.normal_()
    fresh = LearnedScale(3, 'rank1')
    fresh.load_state_dict(s.state_dict())
    assert fresh.out_size == (4, 5)
    assert torch.equal(fresh(None, (4, 5)), s(None, (4, 5)))


def test_init_options():
    w = torch.randn(3, 2, 3, 3)
    s = LearnedScale(3, 'channel', init='xnor')
    s.reset(w)
    assert torch.allclose(s.alpha, w.abs().mean((1, 2, 3)))
    s = LearnedScale(3, 'chw', out_size=(2, 2), init=0.5)
    assert torch.all(s.gamma == 0.5)


def test_bad_values_name_allowed():
    with pytest.raises(ValueError, match="'diag'.*channel"):
        build_scaling('learned', 4, 'diag')
    with pytest.raises(ValueError, match="'big'.*xnor"):
        build_scaling('big', 4)
    with pytest.raises(ValueError, match='scale_init'):
        LearnedScale(4, init='zeros')


def test_channel_spatial_is_channel_vector_times_spatial_map():
    """XNOR-Net++'s fourth Gamma: alpha (O) outer beta (H_out, W_out), against numpy."""
    s = LearnedScale(3, 'channel_spatial', out_size=(4, 5))
    assert s.num_params() == 3 + 4 * 5
    with torch.no_grad():
        s.alpha.normal_()
        s.beta.normal_()
    a, b = s.alpha.detach().numpy(), s.beta.detach().numpy()
    expected = a[:, None, None] * b[None, :, :]
    np.testing.assert_allclose(s(None, (4, 5)).detach().numpy(), expected, rtol=1e-6)


def test_channel_spatial_in_a_binary_conv_lazy_and_checkpoint():
    from plugins.binary import BinaryConv2d
    layer = BinaryConv2d(2, 3, 3, padding=1, scale='learned', scale_shape='channel_spatial',
                         scale_init='xnor', bias=False)
    x = torch.randn(2, 2, 6, 7)
    y = layer(x)  # resolves beta to (6, 7); alpha starts at mean |W| per output channel
    assert layer.scaling.beta.shape == (6, 7)
    w = layer.weight.detach()
    with torch.no_grad():
        layer.scaling.beta.normal_()
        y = layer(x)
    plain = torch.nn.functional.conv2d(torch.where(x < 0, -1.0, 1.0),
                                       torch.where(w < 0, -1.0, 1.0), padding=1)
    gamma = w.abs().mean((1, 2, 3))[:, None, None] * layer.scaling.beta.detach()[None]
    assert torch.allclose(y, plain * gamma, atol=1e-5)
    fresh = BinaryConv2d(2, 3, 3, padding=1, scale='learned', scale_shape='channel_spatial',
                         bias=False)
    fresh.load_state_dict(layer.state_dict())
    assert torch.allclose(fresh(x), y, atol=1e-6)


@pytest.mark.parametrize('shape', ['channel', 'chw', 'rank1', 'channel_spatial'])
def test_factors_multiply_to_the_scale_and_check_the_size(shape):
    s = LearnedScale(3, shape)
    w = torch.randn(3, 2, 3, 3)
    if shape != 'channel':  # lazily resolved by factors() as by forward()
        with pytest.raises(ValueError, match='needs the output size'):
            s.factors(w)
    channel, spatial = s.factors(w, (4, 5))
    with torch.no_grad():
        for p in s.parameters():
            p.uniform_(-2.0, 2.0)
    channel, spatial = s.factors(w, (4, 5))
    full = s(w, (4, 5))
    # written out entry by entry from the parameters (an independent computation)
    p = {n: t.tolist() for n, t in s.named_parameters()}
    expected = torch.tensor([[[{'channel': lambda: p['alpha'][o],
                                'chw': lambda: p['gamma'][o][i][j],
                                'rank1': lambda: p['alpha'][o] * p['beta'][i] * p['gamma'][j],
                                'channel_spatial': lambda: p['alpha'][o] * p['beta'][i][j]}
                               [shape]() for j in range(5)] for i in range(4)] for o in range(3)])
    product = torch.ones(3, 1, 1) if channel is None else channel.view(-1, 1, 1)
    if spatial is not None:
        product = product * spatial
        assert spatial.shape in ((3, 4, 5), (4, 5))
    assert torch.allclose(product.expand(3, 4, 5), expected, rtol=1e-6, atol=0)
    assert torch.allclose(full.expand(3, 4, 5), expected, rtol=1e-6, atol=0)
    if shape == 'chw':
        assert channel is None and spatial is s.gamma
    else:
        assert channel is s.alpha  # a parameter: folded into the weights, gradient flows
    if shape != 'channel':
        with pytest.raises(ValueError, match='resolved for output size'):
            s.factors(w, (5, 5))
