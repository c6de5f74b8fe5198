import io

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d, BinaryLinear


def _sign(t):
    return torch.where(t >= 0, torch.ones_like(t), -torch.ones_like(t))


CASES = [('none', 'channel'), ('xnor', 'channel'), ('learned', 'channel'), ('learned', 'chw'),
         ('learned', 'rank1')]


@pytest.mark.parametrize('scale,shape', CASES)
def test_forward_equals_float_conv_of_signs_times_scale(scale, shape):
    torch.manual_seed(0)
    layer = build_conv_layer(dict(type='BinaryConv2d', scale=scale, scale_shape=shape), 3, 4, 3,
                             stride=2, padding=1)
    with torch.no_grad():
        for p in layer.scaling.parameters():
            p.uniform_(0.5, 2)
    x = torch.randn(2, 3, 7, 7)
    y = layer(x)  # resolves chw/rank1 to (4, 4)
    with torch.no_grad():
        for p in layer.scaling.parameters():
            p.uniform_(0.5, 2)
    y = layer(x)
    w = layer.weight.detach()
    s = layer.scaling
    if scale == 'none':
        scale_ref = torch.ones(4, 1, 1)
    elif scale == 'xnor':
        scale_ref = w.abs().mean((1, 2, 3)).view(-1, 1, 1)
    elif shape == 'channel':
        scale_ref = s.alpha.detach().view(-1, 1, 1)
    elif shape == 'chw':
        scale_ref = s.gamma.detach()
    else:
        scale_ref = torch.einsum('o,h,w->ohw', s.alpha, s.beta, s.gamma).detach()
    conv = F.conv2d(_sign(x), _sign(w), stride=2, padding=1)
    ref = conv * scale_ref + layer.bias.detach().view(1, -1, 1, 1)
    assert torch.allclose(y, ref, atol=1e-5)
    assert torch.equal(layer.binary_weight(), _sign(w))
    if scale != 'none':
        assert torch.allclose(layer.output_scale(), scale_ref, atol=1e-6)


def test_activation_factor_k_and_real_activations():
    layer = BinaryConv2d(3, 4, 3, padding=1, scale='none', act_scale=True, bias=False)
    x = torch.randn(1, 3, 5, 5)
    k = F.avg_pool2d(x.abs().mean(1, keepdim=True), 3, 1, 1, count_include_pad=True)
    ref = F.conv2d(_sign(x), _sign(layer.weight.detach()), padding=1) * k
    assert torch.allclose(layer(x), ref, atol=1e-5)
    real_in = BinaryConv2d(3, 4, 3, act_quantizer=None, scale='none', bias=False)
    assert torch.allclose(real_in(x), F.conv2d(x, _sign(real_in.weight.detach())), atol=1e-5)


def test_binary_mix_zero_is_real_conv():
    layer = BinaryConv2d(3, 4, 3, scale='xnor')
    layer.binary_mix = 0.0
    x = torch.randn(1, 3, 5, 5)
    assert torch.allclose(layer(x), F.conv2d(x, layer.weight, layer.bias), atol=1e-6)
    assert not layer.is_binary


def test_gradients_reach_weight_and_scale():
    layer = BinaryConv2d(3, 4, 3, scale='learned', scale_shape='rank1')
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    layer(x).square().sum().backward()
    for p in [x, layer.weight, layer.scaling.alpha, layer.scaling.beta, layer.scaling.gamma]:
        assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize('latent', [None, dict(type='SVD', rank=2)])
def test_checkpoint_round_trip_materialize_and_export(latent):
    cfg = dict(type='BinaryConv2d', scale='learned', scale_shape='chw', latent=latent,
               post_act=dict(type='ChannelPReLU'))
    a = build_conv_layer(cfg, 3, 4, 3, padding=1)
    x = torch.randn(1, 3, 5, 5)
    y = a(x)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = build_conv_layer(cfg, 3, 4, 3, padding=1)
    b.load_state_dict(torch.load(buf))
    assert torch.equal(b(x), y)
    b.materialize()
    assert b.latent is None and set(b.weight.unique().tolist()) <= {-1.0, 1.0}
    assert torch.allclose(b(x), y, atol=1e-5)
    c = build_conv_layer(cfg, 3, 4, 3, padding=1)
    c.load_state_dict(b.state_dict())  # a materialized checkpoint loads into a fresh layer
    assert torch.allclose(c(x), y, atol=1e-5)
    e = a.export()
    assert e['weight_sign'].dtype == torch.int8 and e['scale'].shape == (4, 5, 5)


def test_linear():
    lin = BinaryLinear(6, 3, scale='xnor')
    x = torch.randn(2, 6)
    w = lin.weight.detach()
    ref = F.linear(_sign(x), _sign(w) * w.abs().mean(1, keepdim=True), lin.bias)
    assert torch.allclose(lin(x), ref, atol=1e-5)
    with pytest.raises(ValueError, match="'chw'.*linear"):
        BinaryLinear(6, 3, scale_shape='chw')


def test_stock_mmpose_resnet_with_binary_conv_cfg():
    from mmpose.registry import MODELS
    net = MODELS.build(dict(type='ResNet', depth=18, base_channels=8, out_indices=(3, ),
                            conv_cfg=dict(type='BinaryConv2d', scale='learned')))
    out = net(torch.randn(2, 3, 32, 32))
    assert out[0].shape == (2, 64, 1, 1)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) >= 20 and all(isinstance(m, BinaryConv2d) for m in convs)


def test_linear_from_config_round_trips_checkpoint():
    from mmengine.registry import MODELS
    cfg = dict(type='BinaryLinear', in_features=6, out_features=3, scale='learned',
               latent=dict(type='SVD', rank=2), post_act=dict(type='LearnableSlope'))
    a, b = MODELS.build(cfg), MODELS.build(cfg)
    with torch.no_grad():
        a.scaling.alpha.uniform_(0.5, 2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 6)
    assert torch.equal(a(x), b(x))
    assert a.export()['weight_sign'].shape == (3, 6)


def test_spatial_scale_backward_matches_autograd_of_the_formula():
    from plugins.binary.binary_conv import _ScaleOutput
    y = torch.randn(3, 2, 4, 5, dtype=torch.double, requires_grad=True)
    s = torch.randn(2, 4, 5, dtype=torch.double, requires_grad=True)
    b = torch.randn(2, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(_ScaleOutput.apply, (y, s, b))
    assert torch.autograd.gradcheck(_ScaleOutput.apply, (y, s, None))
    # the (H_out, W_out) spatial factor of rank1 / channel_spatial, broadcast over channels
    hw = torch.randn(4, 5, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(_ScaleOutput.apply, (y, hw, b))


@pytest.mark.parametrize('options', [
    dict(kernel_size=3, padding=1), dict(kernel_size=3, stride=2, padding=2, dilation=2),
    dict(kernel_size=(3, 1), stride=(2, 1), padding=(0, 3)), dict(kernel_size=3, padding='same'),
    dict(kernel_size=3, padding='valid'), dict(kernel_size=3, padding=1, padding_mode='reflect')])
def test_out_size_before_the_conv_is_the_conv_output_size(options):
    layer = BinaryConv2d(2, 3, **options)
    for size in [(7, 9), (8, 8), (5, 6)]:
        x = torch.randn(1, 2, *size)
        assert layer._out_size(x) == tuple(torch.nn.Conv2d(2, 3, **options)(x).shape[-2:])
