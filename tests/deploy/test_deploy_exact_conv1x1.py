"""Real 1x1 convs of exported models in C++ (plugins/deploy/exact_conv1x1.py)."""
import pytest
import torch
from torch import nn

import plugins  # noqa: F401
from plugins.deploy.exact_conv1x1 import Conv1x1Norm, conv1x1, exact_conv1x1s
from plugins.deploy.norm_terms import _round_to_f32_exact, batchnorm_terms


def fma32(a, b, c):
    """float32 ``fma(a, b, c)`` computed exactly in float64 (the product is exact; TwoSum gives
    the sum's rounding error; one rounding to float32 at the end)."""
    prod, c = a.double() * b.double(), c.double()
    hi = prod + c
    virt = hi - prod
    lo = (prod - (hi - virt)) + (c - virt)
    return _round_to_f32_exact(hi, lo)


def reference(x, w, block, alpha=None, beta=None):
    """The kernel's documented order, emulated: per block a chain of float32 fused
    multiply-adds over the channels from +0, the blocks' sums added in order, then the
    BatchNorm's fma."""
    n, c, h, wd = x.shape
    xs = x.reshape(n, 1, c, h * wd)
    ws = w.reshape(1, -1, c, 1)
    tot = None
    for c0 in range(0, c, block):
        acc = torch.zeros(n, w.shape[0], h * wd)
        for k in range(c0, min(c, c0 + block)):
            acc = fma32(ws[:, :, k].expand(n, -1, h * wd), xs[:, :, k].expand(n, w.shape[0], -1),
                        acc)
        tot = acc if tot is None else tot + acc
    if alpha is not None:
        tot = fma32(tot, alpha.view(1, -1, 1).expand_as(tot), beta.view(1, -1, 1).expand_as(tot))
    return tot.reshape(n, -1, h, wd)


def random_bn(c, seed):
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(c).eval()
    with torch.no_grad():
        bn.running_mean.normal_(0, 1, generator=g)
        bn.running_var.uniform_(0.05, 3, generator=g)
        bn.weight.normal_(0, 1, generator=g)
        bn.bias.normal_(0, 1, generator=g)
    return bn


def bits(t):
    return t.contiguous().view(torch.int32)


@pytest.mark.parametrize('n,c,o,hw,block', [(1, 3, 6, 5, 3), (2, 17, 9, 7, 17), (1, 64, 128, 6, 64),
                                            (1, 40, 12, 9, 16), (2, 96, 8, 4, 32)])
@pytest.mark.parametrize('vectorised', [True, False])
@pytest.mark.parametrize('with_norm', [False, True])
@pytest.mark.parametrize('threads', [1, 2])
def test_kernel_sums_in_the_documented_order(n, c, o, hw, block, vectorised, with_norm, threads):
    g = torch.Generator().manual_seed(c * 31 + o)
    x = torch.randn(n, c, hw, hw, generator=g)
    w = torch.randn(o, c, 1, 1, generator=g) * 0.2
    alpha, beta = batchnorm_terms(random_bn(o, c)) if with_norm else (None, None)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        y = conv1x1(x, w, block, alpha, beta, vectorised=vectorised)
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(bits(y), bits(reference(x, w, block, alpha, beta)))


def test_order_matters_so_the_test_can_fail():
    """Another block size gives other roundings: the reference separates orders."""
    g = torch.Generator().manual_seed(3)
    x, w = torch.randn(1, 96, 6, 6, generator=g), torch.randn(8, 96, 1, 1, generator=g)
    assert not torch.equal(bits(conv1x1(x, w, 32)), bits(reference(x, w, 96)))


def test_kernel_refuses_half_a_norm():
    x, w = torch.randn(1, 4, 3, 3), torch.randn(2, 4, 1, 1)
    with pytest.raises(ValueError, match='refused'):
        conv1x1(x, w, 4, torch.ones(2), None)


@pytest.mark.parametrize('c,o,hw', [(64, 128, 28), (128, 256, 14), (256, 512, 7), (3, 5, 11)])
def test_conv_norm_equals_torch_bit_for_bit(c, o, hw):
    conv, norm = nn.Conv2d(c, o, 1, bias=False), random_bn(o, o)
    op = Conv1x1Norm(conv, norm)
    g = torch.Generator().manual_seed(hw)
    with torch.no_grad():
        for _ in range(2):  # the first call decides, the second uses the decision
            x = torch.randn(1, c, hw, hw, generator=g)
            assert torch.equal(bits(op(x)), bits(norm(conv(x))))
        x = torch.zeros(1, c, hw, hw)  # signs of zero sums
        assert torch.equal(bits(op(x)), bits(norm(conv(x))))


def test_no_matching_order_keeps_torch():
    """A reference that no summation order reproduces: the pass decides for torch's modules."""

    class Shifted(Conv1x1Norm):
        def reference(self, x):
            return super().reference(x) + 1e-3

    op = Shifted(nn.Conv2d(8, 4, 1, bias=False))
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        y = op(x)
    assert op.decisions == {(1, 8, 5, 5, torch.get_num_threads()): None}
    assert torch.equal(y, op.conv(x) + 1e-3)


def test_norm_terms_follow_the_norm_buffers():
    conv, norm = nn.Conv2d(16, 8, 1, bias=False), random_bn(8, 1)
    op, x = Conv1x1Norm(conv, norm), torch.randn(1, 16, 6, 6)
    with torch.no_grad():
        op(x)
        norm.running_mean.add_(0.5)  # changed after the first call
        assert torch.equal(bits(op(x)), bits(norm(conv(x))))


def test_pass_rewrites_shortcut_sequentials_only_in_value_preserving_ways():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(32, 64, 1, bias=False), random_bn(64, 2)),
        nn.Sequential(nn.Conv2d(64, 16, 1, bias=False), nn.ReLU()),
        nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, bias=False), random_bn(16, 3))).eval()
    x = torch.randn(2, 32, 12, 12)
    with torch.no_grad():
        ref = model(x)
        assert exact_conv1x1s(model) == 2  # the 3x3 conv is not a 1x1 conv
        assert 'forward' in model[0].__dict__ and 'forward' in model[1].__dict__
        assert 'forward' not in model[2].__dict__
        assert torch.equal(bits(model(x)), bits(ref))
    model.train()  # a training-mode BatchNorm: torch's modules (batch statistics, autograd)
    y = model(x)
    assert y.requires_grad
    ref = x
    for inner in model:  # each Sequential's own forward, module by module
        ref = nn.Sequential.forward(inner, ref)
    assert torch.equal(y, ref)


def test_exported_resnet_shortcuts_run_in_cpp_and_equal_the_float_binary_model():
    import timm

    from plugins.deploy import export_binary
    binary = timm.create_model('binary_resnet18_channel', num_classes=10).eval()
    x = torch.randn(1, 3, 64, 64)
    packed = export_binary(binary)
    with torch.no_grad():
        ref, out = binary(x), packed(x)
    assert torch.equal(bits(out), bits(ref))
    assert all('forward' in getattr(packed, f'layer{i}')[0].downsample.__dict__ for i in (2, 3, 4))
