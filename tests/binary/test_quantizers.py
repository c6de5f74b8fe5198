import pytest
import torch

import plugins  # noqa: F401
from plugins.binary import QUANTIZERS, build_quantizer


def test_sign_ste_forward_and_clipped_gradient():
    x = torch.tensor([-2.0, -1.0, -0.3, 0.0, 0.4, 1.0, 1.5], requires_grad=True)
    q = build_quantizer(dict(type='SignSTE', clip=1.0))
    y = q(x)
    assert y.tolist() == [-1, -1, -1, 1, 1, 1, 1]
    g = torch.arange(1.0, 8.0)
    y.backward(g)
    expected = torch.where(x.detach().abs() <= 1.0, g, torch.zeros_like(g))
    assert torch.equal(x.grad, expected)


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
