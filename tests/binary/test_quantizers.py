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
