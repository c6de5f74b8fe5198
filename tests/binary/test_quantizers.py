import numpy as np
import pytest
import torch

import plugins  # noqa: F401
from plugins.binary import QUANTIZERS, build_quantizer


@pytest.mark.parametrize('save_mask', [False, True])
def test_sign_ste_forward_and_clipped_gradient(save_mask):
    x = torch.tensor([-2.0, -1.0, -0.3, 0.0, 0.4, 0.99, 1.0, 1.5], requires_grad=True)
    q = build_quantizer(dict(type='SignSTE', clip=1.0, save_mask=save_mask))
    y = q(x)
    assert y.tolist() == [-1, -1, -1, 1, 1, 1, 1, 1]
    g = torch.arange(1.0, 9.0)
    y.backward(g)
    # d/dx hardtanh(x) = 1 for |x| < 1, else 0
    expected = torch.tensor([0, 0, 3, 4, 5, 6, 0, 0], dtype=torch.float32)
    assert torch.equal(x.grad, expected)
    x2 = (torch.randn(50) * 2).requires_grad_()
    build_quantizer(dict(type='SignSTE', clip=0.5, save_mask=save_mask))(x2).sum().backward()
    assert torch.equal(x2.grad, (x2.detach().abs() < 0.5).float())


def test_sign_ste_identity_gradient_and_approx_sign():
    x = torch.linspace(-2, 2, 9, requires_grad=True)
    build_quantizer(dict(type='SignSTE', clip=None))(x).sum().backward()
    assert torch.equal(x.grad, torch.ones(9))
    x.grad = None
    build_quantizer(dict(type='ApproxSign'))(x).sum().backward()
    xd = x.detach()
    assert torch.allclose(x.grad, torch.clamp(2 - 2 * xd.abs(), min=0))


def test_identity_is_real():
    x = torch.randn(5)
    q = build_quantizer(dict(type='Identity'))
    assert torch.equal(q(x), x) and not q.binary


def test_unknown_quantizer_names_allowed():
    with pytest.raises(KeyError, match="'Foo'.*SignSTE"):
        build_quantizer(dict(type='Foo'))
    assert build_quantizer(None) is None
    assert {'SignSTE', 'ApproxSign', 'Identity'} <= set(QUANTIZERS.module_dict)


# ----- SmoothSign: value and gradient against the formulas evaluated in numpy -------------
_NP_SMOOTH = {
    'tanh': (lambda z: np.tanh(z), lambda z: 1 - np.tanh(z)**2),
    'sigmoid': (lambda z: 2 / (1 + np.exp(-z)) - 1,
                lambda z: 2 * np.exp(-z) / (1 + np.exp(-z))**2),
    'softsign': (lambda z: z / (1 + np.abs(z)), lambda z: 1 / (1 + np.abs(z))**2),
}


@pytest.mark.parametrize('fn', sorted(_NP_SMOOTH))
@pytest.mark.parametrize('k', [0.5, 3.0, 25.0])
def test_smooth_sign_value_and_gradient_match_numpy(fn, k):
    x64 = np.linspace(-2.0, 2.0, 41)
    x = torch.tensor(x64, dtype=torch.float64, requires_grad=True)
    q = build_quantizer(dict(type='SmoothSign', k=k, fn=fn)).double()
    y = q(x)
    f, df = _NP_SMOOTH[fn]
    np.testing.assert_allclose(y.detach().numpy(), f(k * x64), rtol=1e-10, atol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), k * df(k * x64), rtol=1e-9, atol=1e-12)
    assert not q.binary


def test_smooth_sign_normalize_hard_switch_and_checkpoint():
    w = torch.tensor([-0.02, -0.005, 0.0, 0.01, 0.03], requires_grad=True)
    q = build_quantizer(dict(type='SmoothSign', k=2.0, normalize=True))
    m = np.abs(w.detach().numpy()).mean()
    np.testing.assert_allclose(q(w).detach().numpy(), np.tanh(2.0 * w.detach().numpy() / m),
                               rtol=1e-5)
    q.set_state(k=7.0, hard=True)
    assert q.binary
    y = q(w)
    assert y.tolist() == [-1, -1, 1, 1, 1]
    y.backward(torch.ones(5))
    z = w.detach().numpy() / m  # hard phase: clipped STE on the normalised input
    np.testing.assert_allclose(w.grad.numpy(), (np.abs(z) < 1) / m, rtol=1e-5)
    fresh = build_quantizer(dict(type='SmoothSign'))
    fresh.load_state_dict(q.state_dict())
    assert fresh.binary and float(fresh.k) == 7.0
    with pytest.raises(ValueError, match="'cubic'.*tanh"):
        build_quantizer(dict(type='SmoothSign', fn='cubic'))


# ----- weight mean-centring before the sign -------------------------------------------------
@pytest.mark.parametrize('center,axes', [('in_channels', (1, )), ('filter', (1, 2, 3))])
@pytest.mark.parametrize('qtype', ['SignSTE', 'ApproxSign', 'SmoothSign'])
def test_centring_before_sign(center, axes, qtype):
    w64 = np.random.default_rng(0).normal(0.3, 1.0, size=(4, 3, 3, 3))
    cfg = dict(type=qtype, center=center)
    if qtype == 'SmoothSign':
        cfg['hard'] = True
    q = build_quantizer(cfg)
    w = torch.tensor(w64, dtype=torch.float32)
    expected = np.where(w64 - w64.mean(axis=axes, keepdims=True) < 0, -1.0, 1.0)
    np.testing.assert_array_equal(q(w).numpy(), expected)
    np.testing.assert_array_equal(q.hard_sign(w).numpy(), expected)
    assert not np.array_equal(expected, np.where(w64 < 0, -1.0, 1.0))  # centring mattered
    with pytest.raises(ValueError, match="'rows'.*in_channels"):
        build_quantizer(dict(type=qtype, center='rows'))


def test_centred_weights_reach_export_and_materialize():
    from plugins.binary import BinaryConv2d
    layer = BinaryConv2d(3, 4, 3, padding=1, scale='xnor',
                         weight_quantizer=dict(type='SignSTE', center='in_channels'))
    with torch.no_grad():
        layer.weight.add_(0.05)
    w64 = layer.weight.detach().double().numpy()
    expected = np.where(w64 - w64.mean(1, keepdims=True) < 0, -1, 1)
    np.testing.assert_array_equal(layer.export()['weight_sign'].numpy(), expected)
    x = torch.randn(2, 3, 6, 6)
    before = layer(x)
    layer.materialize()
    assert torch.allclose(layer(x), before, atol=1e-5)
