"""The fused sign + conv training path of BinaryConv2d (``_SignConv2d``): same forward values and
gradients as an explicit formula differentiated by autograd, and as the two-node form."""
import pytest
import torch
import torch.nn.functional as F

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d
from plugins.binary.int8_conv import int8_conv_available


def _ste_sign(t, clip):
    """sign bit forward, gradient 1 on [-clip, clip] (clip=None: everywhere); the value is
    exactly +-1 (``h - h.detach()`` is an exact 0)."""
    sign = torch.where(torch.signbit(t), -1.0, 1.0).to(t.dtype)
    h = t if clip is None else t.clamp(-clip, clip)
    return sign + (h - h.detach())


def _random_input(shape, clip):
    x = torch.randn(shape) * 1.3
    if clip is not None:  # keep clear of the clip boundary (clamp's gradient is 1 there)
        x[(x.abs() - clip).abs() < 1e-3] = 0.5
    x.view(-1)[:4] = torch.tensor([0.0, -0.0, 1e-30, -1e-30])  # sign bits of zeros, tiny
    return x


def _factors_ref(layer, leaves):
    """(channel (O, ), spatial) factors of the output scale from the leaf copies, written out
    per scale kind (``None`` for a missing factor)."""
    sc, w = layer.scaling, leaves['weight']
    kind = type(sc).__name__
    if kind == 'NoScale':
        return None, None
    if kind == 'XNORScale':
        return w.abs().flatten(1).mean(1), None
    if sc.shape == 'channel':
        return leaves['scaling.alpha'], None
    if sc.shape == 'chw':
        return None, leaves['scaling.gamma']
    if sc.shape == 'channel_spatial':
        return leaves['scaling.alpha'], leaves['scaling.beta']
    return leaves['scaling.alpha'], leaves['scaling.beta'].view(-1, 1) * \
        leaves['scaling.gamma'].view(1, -1)


SCALES = [dict(scale='none'), dict(scale='xnor'), dict(scale='learned'),
          dict(scale='learned', scale_shape='chw'), dict(scale='learned', scale_shape='rank1'),
          dict(scale='learned', scale_shape='channel_spatial')]
GEOMETRIES = [dict(padding=1), dict(padding=2, stride=2, dilation=2), dict(groups=2)]
QUANTISERS = [dict(type='SignSTE'), dict(type='SignSTE', clip=0.7, save_mask=True),
              dict(type='SignSTE', clip=None)]


INT8 = [False, pytest.param(True, marks=pytest.mark.skipif(
    not int8_conv_available(), reason='no exact oneDNN int8 convolution in this torch build'))]


@pytest.mark.parametrize('spec', SCALES)
@pytest.mark.parametrize('geometry', GEOMETRIES)
@pytest.mark.parametrize('act_q', QUANTISERS)
@pytest.mark.parametrize('int8', INT8)
def test_fused_training_step_equals_autograd_of_the_explicit_formula(spec, geometry, act_q,
                                                                    int8):
    torch.manual_seed(0)
    layer = BinaryConv2d(8, 6, 3, bias=True, act_quantizer=act_q, **spec, **geometry).train()
    layer.int8_forward = int8
    clip = act_q.get('clip', 1.0)
    x = _random_input((3, 8, 9, 9), clip).requires_grad_()
    out_size = layer(x).shape[-2:]  # resolves the spatial scales
    with torch.no_grad():
        for p in layer.scaling.parameters():
            p.uniform_(0.5, 2.0)
        layer.weight[(layer.weight.abs() - 1).abs() < 1e-3] = 0.5
    g = torch.randn(3, 6, *out_size)
    x.grad = None
    y = layer(x)
    assert type(y.grad_fn).__name__ == '_SignConv2dBackward' or not spec.get(
        'scale_shape', 'channel') == 'channel'  # the fused node is in the graph
    y.backward(g)

    leaves = {n: p.detach().clone().requires_grad_() for n, p in layer.named_parameters()}
    xr = x.detach().clone().requires_grad_()
    xb = _ste_sign(xr, clip)
    wb = _ste_sign(leaves['weight'], 1.0)
    channel, spatial = _factors_ref(layer, leaves)
    per_channel = spatial is None
    geo = dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
               groups=layer.groups)
    # the training path folds the per-channel factor into the weights and multiplies the output
    # by the spatial one
    w_eff = wb if channel is None else wb * channel.view(-1, 1, 1, 1)
    if per_channel:
        ref = F.conv2d(xb, w_eff, leaves['bias'], **geo)
    else:
        ref = F.conv2d(xb, w_eff, None, **geo) * spatial + leaves['bias'].view(1, -1, 1, 1)
    ref.backward(g)

    with torch.no_grad():  # = the layer's formula conv(xb, wb) * s + b up to float rounding
        s = 1.0 if channel is None else channel.view(-1, 1, 1)
        s = s if spatial is None else s * spatial
        unfolded = F.conv2d(xb, wb, None, **geo) * s + leaves['bias'].view(1, -1, 1, 1)
        # the int8 forward: exact integer, times the channel factor, plus the bias (eval order)
        eval_order = F.conv2d(xb, wb, None, **geo)
        if channel is not None:
            eval_order = eval_order * channel.view(-1, 1, 1)
        if per_channel:
            eval_order = eval_order + leaves['bias'].view(1, -1, 1, 1)
        else:
            eval_order = eval_order * spatial + leaves['bias'].view(1, -1, 1, 1)
    forward_ref = eval_order if int8 else ref
    assert torch.equal(y, forward_ref) if per_channel else torch.allclose(
        y, forward_ref, rtol=1e-6, atol=0)
    assert torch.allclose(y, unfolded, rtol=1e-5, atol=1e-5 * unfolded.abs().max())
    assert torch.equal(x.grad, xr.grad)  # the straight-through input gradient, bit for bit
    assert x.grad.abs().sum() > 0
    for name, p in layer.named_parameters():
        exact = per_channel or name in ('weight', 'scaling.alpha')  # conv backward, exact
        r = leaves[name].grad
        # a reduction of other order: rounding relative to the largest entry (sums cancel)
        assert torch.equal(p.grad, r) if exact else torch.allclose(
            p.grad, r, rtol=1e-5, atol=1e-6 * r.abs().max()), name


@pytest.mark.parametrize('spec', SCALES + [dict(act_scale=True)])
@pytest.mark.parametrize('act_q', QUANTISERS + [dict(type='SmoothSign', hard=True)])
def test_fused_equals_the_two_node_form_bit_for_bit(spec, act_q):
    torch.manual_seed(1)
    x = _random_input((2, 8, 7, 7), None)
    layers = []
    for fuse in (True, False):
        torch.manual_seed(2)
        layer = BinaryConv2d(8, 8, 3, padding=1, act_quantizer=act_q, **spec).train()
        layer.fuse_sign = fuse
        layer.int8_forward = False  # the float convolution in both (the int8 one rounds as eval)
        layers.append(layer)
    g = torch.randn(2, 8, 7, 7)
    results = []
    for layer in layers:
        xi = x.clone().requires_grad_()
        y = layer(xi)
        y.backward(g)
        results.append([y, xi.grad] + [p.grad for p in layer.parameters()])
    assert layers[0]._fused_ste() is not None and layers[1]._fused_ste() is None
    for a, b in zip(*results):
        assert torch.equal(a, b)


@pytest.mark.parametrize('options', [
    dict(padding_mode='reflect', padding=1), dict(padding='same'),
    dict(act_quantizer=dict(type='ApproxSign')),
    dict(act_quantizer=dict(type='SignSTE', center='in_channels')),
    dict(act_quantizer=dict(type='SmoothSign', k=2.0)),
    dict(act_quantizer=dict(type='SmoothSign', hard=True, normalize=True)),
    dict(act_quantizer=None)])
def test_quantisers_and_paddings_that_cannot_fuse_take_the_general_path(options):
    layer = BinaryConv2d(4, 4, 3, **options).train()
    assert layer._fused_ste() is None
    x = torch.randn(1, 4, 6, 6, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None


def test_binary_mix_below_one_is_not_fused_and_incoming_gradient_is_not_modified():
    layer = BinaryConv2d(4, 4, 3, padding=1).train()
    layer.binary_mix = 0.5
    assert layer._fused_ste() is None
    layer.binary_mix = 1.0
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    y = layer(x)
    g = torch.randn_like(y)
    g_before = g.clone()
    (y * 1.0).backward(g)  # MulBackward passes g on; the fused backward must not write it
    assert torch.equal(g, g_before)
    # an output read twice: both incoming gradients summed, input gradient twice one read's
    x2 = x.detach().clone().requires_grad_()
    y2 = layer(x2)
    (y2 + y2).backward(g)
    assert torch.allclose(x2.grad, 2 * x.grad)


def test_autocast_takes_the_two_node_form_and_trains():
    layer = BinaryConv2d(4, 4, 3, padding=1).train()
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert layer._fused_ste('cpu') is None
        y = layer(x)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert x.grad is not None and layer.weight.grad is not None
    assert layer._fused_ste('cpu') is not None


@pytest.mark.skipif(not int8_conv_available(), reason='no exact oneDNN int8 convolution')
@pytest.mark.parametrize('spec', SCALES + [dict(act_scale=True)])
def test_int8_training_forward_equals_the_eval_forward_bit_for_bit(spec):
    """The int8 forward rounds as eval mode (exact integer, one rounding per factor); the eval
    forward is the float ``F.conv2d`` path, computed independently of oneDNN's int8 op."""
    torch.manual_seed(3)
    layer = BinaryConv2d(16, 12, 3, padding=1, bias=True, **spec).train()
    x = _random_input((2, 16, 9, 9), 1.0)
    layer(x)  # resolves the spatial scales
    with torch.no_grad():
        for p in layer.scaling.parameters():
            p.uniform_(0.5, 2.0)
        layer.bias.normal_()
    assert layer._int8(x)
    y = layer(x)
    y_eval = layer.eval()(x)
    per_channel = spec.get('scale_shape', 'channel') == 'channel'
    # a spatial factor is one more product (+ bias) in the C++ pass: FMA or not, one rounding
    assert torch.equal(y, y_eval) if per_channel else torch.allclose(y, y_eval, rtol=1e-6,
                                                                     atol=1e-6)
    layer.int8_forward = False
    y_float = layer.train()(x)  # the folded float convolution: equal up to rounding only
    assert torch.allclose(y_float, y_eval, rtol=1e-5, atol=1e-5 * float(y_eval.abs().max()))


def test_int8_forward_needs_binary_weights():
    for weight_q in (dict(type='Identity'), dict(type='SmoothSign', k=2.0)):
        layer = BinaryConv2d(4, 4, 3, padding=1, weight_quantizer=weight_q).train()
        assert not layer._int8(torch.zeros(1, 4, 5, 5))
        x = torch.randn(1, 4, 5, 5)  # real weights still convolve correctly (float path)
        w = layer.weight_quantizer(layer.weight) * layer.scaling.alpha.view(-1, 1, 1, 1)
        ref = F.conv2d(torch.where(torch.signbit(x), -1.0, 1.0), w, layer.bias, padding=1)
        assert torch.allclose(layer(x), ref, rtol=1e-5, atol=1e-6)
    layer = BinaryConv2d(4, 4, 3, padding=1).train()
    assert not layer._int8(torch.zeros(1, 4, 5, 5, dtype=torch.float64))
    layer.binary_mix = 0.5
    assert not layer._int8(torch.zeros(1, 4, 5, 5))
