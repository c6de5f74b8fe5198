"""BatchNorm -> sign folded into the packed conv's sign packing (plugins/deploy/fold_norm.py)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d
from plugins.deploy import ExportReport, PackedBinaryConv2d, export_binary


def random_bn(c, seed, zero_gamma=False):
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(c).eval()
    with torch.no_grad():
        bn.running_mean.normal_(0, 1, generator=g)
        bn.running_var.uniform_(0.05, 3, generator=g)
        bn.weight.normal_(0, 1, generator=g)  # about half the channels flip (gamma < 0)
        bn.bias.normal_(0, 1, generator=g)
        if zero_gamma:
            bn.weight[0] = 0.0  # constant channel: sign(bias)
    return bn


@pytest.mark.parametrize('c,hw,k,seed', [(3, 5, 3, 0), (64, 7, 3, 1), (70, 6, 1, 2),
                                         (130, 9, 3, 3)])
@pytest.mark.parametrize('backend', ['kernel', 'torch'])
def test_folded_norm_gives_the_signs_of_the_norm_output(c, hw, k, seed, backend):
    bn = random_bn(c, seed, zero_gamma=True)
    g = torch.Generator().manual_seed(seed + 10)
    signs = torch.randn(17, c, k, k, generator=g).sign()
    x = torch.randn(2, c, hw, hw, generator=g) * 2
    folded = PackedBinaryConv2d.from_signs(signs, padding=k // 2, backend=backend)
    folded.fold_input_norm(bn)
    with torch.no_grad():
        # independent reference: torch's BatchNorm, the sign bit, a float conv of +-1
        xs = torch.copysign(torch.ones(()), bn(x))
        ref = F.conv2d(xs, signs, padding=k // 2)
        assert torch.equal(folded(x), ref)  # integer outputs: bit-exact


def test_folded_sign_equals_batchnorm_sign_at_the_threshold():
    """Inputs within 1e-6 of the threshold -beta/alpha, where |BN(x)| is at float32 rounding
    level: the folded sign (torch backend: float64; kernel: fmaf) equals torch's BatchNorm's
    everywhere, because both round alpha, beta and x * alpha + beta as torch does."""
    c = 64
    bn = random_bn(c, 5)
    alpha = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    t = (bn.running_mean - bn.bias / alpha).detach()
    x = t.view(1, -1, 1, 1) + torch.randn(1, c, 8, 8) * 1e-6
    w = torch.where(torch.rand(48, c, 1, 1, generator=torch.Generator().manual_seed(6)) < 0.5,
                    -1.0, 1.0)
    conv = PackedBinaryConv2d.from_signs(w)
    conv.fold_input_norm(bn)
    with torch.no_grad():
        y = bn(x)
        assert (y.abs() < 1e-4).float().mean() > 0.5  # the inputs are at the threshold
        mine = conv._apply_input_norm(x)
        assert torch.equal(torch.signbit(mine), torch.signbit(y))
        # the kernel: a flipped sign would change its outputs by 2 (exact integers)
        assert torch.equal(conv(x), F.conv2d(torch.where(torch.signbit(y), -1.0, 1.0), w))


def hourglass_model(block='HPMBlock', post_act=None, scale_shape='channel'):
    from mmpose.registry import MODELS
    conv = dict(type='BinaryConv2d', scale='learned', scale_shape=scale_shape,
                scale_init='xnor')
    return MODELS.build(
        dict(type='StackedHourglass', num_stacks=1, depth=2, channels=32, out_channels=5,
             stem_channels=(16, 32),
             block=dict(type=block, conv_cfg=conv, act_cfg=None,
                        post_act_cfg=post_act))).eval()


@pytest.mark.parametrize('block,post_act,scale_shape', [
    ('HPMBlock', None, 'channel'), ('HPMBlock', dict(type='PReLU'), 'channel'),
    ('PreActBottleneck', dict(type='PReLU'), 'channel_spatial'),
    ('PreActBottleneck', None, 'rank1')])
def test_hourglass_norms_are_folded_and_outputs_kept(block, post_act, scale_shape):
    from tests.deploy.test_deploy_export import randomise
    model = hourglass_model(block, post_act, scale_shape)
    with torch.no_grad():
        model(torch.randn(1, 3, 64, 64))  # resolves the spatial scales
    model = randomise(model, seed=3)
    report = ExportReport()
    packed = export_binary(model, report=report)
    assert len(report.folded_norms) == len(report.packed) > 0
    assert all(name.endswith('.norm') for name in report.folded_norms)
    unfolded = export_binary(model, fold_norms=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref, out, mid = model(x), packed(x), unfolded(x)
    ref, out, mid = [t[-1] if isinstance(t, (list, tuple)) else t for t in (ref, out, mid)]
    # bit-identical (on these inputs no folded sign sits at its rounding threshold)
    assert torch.equal(out, ref) and torch.equal(mid, ref)


def test_norm_read_elsewhere_or_with_act_scale_is_not_folded():
    seq = nn.Sequential(nn.BatchNorm2d(8), nn.ReLU(),
                        BinaryConv2d(8, 8, 3, padding=1, scale='xnor'), nn.BatchNorm2d(8),
                        BinaryConv2d(8, 8, 3, padding=1, scale='xnor', act_scale=True)).eval()
    report = ExportReport()
    export_binary(seq, report=report)
    # BN -> ReLU -> conv: sign(ReLU(y)) is not sign(y); BN -> act_scale conv reads |BN(x)|
    assert report.folded_norms == []


@pytest.mark.parametrize('backend', ['kernel', 'torch'])
def test_folded_norm_sign_is_torch_batchnorm_sign_within_an_ulp_of_zero(backend):
    """BatchNorm(eps=0, var=1, mean=0) computes x * weight + bias; with bias = -fl(x * weight)
    a product rounded before the addition gives exactly 0 (+1) on every channel, while torch's
    BatchNorm (one rounding) keeps the sign of the product's rounding error. The folded
    packing must follow torch."""
    from plugins.deploy import set_backend
    torch.manual_seed(0)
    c = 64
    xv, w = torch.rand(c) + 0.5, torch.rand(c) + 0.5
    norm = nn.BatchNorm2d(c, eps=0.0)
    with torch.no_grad():
        norm.weight.copy_(w)
        norm.bias.copy_(-(xv * w))
    model = nn.Sequential(norm, BinaryConv2d(c, 32, 3, padding=1, scale='none')).eval()
    x = xv.view(1, c, 1, 1).expand(2, c, 5, 5).contiguous()
    with torch.no_grad():
        ref_signs = torch.signbit(norm(x))
        two_roundings = x * w.view(1, c, 1, 1) - (xv * w).view(1, c, 1, 1)
        # the case is real: torch's signs differ from the two-rounding formula's on some
        # channels (else this test could not fail)
        assert 0 < int((torch.signbit(two_roundings) != ref_signs).sum()) < ref_signs.numel()
        packed = set_backend(export_binary(model), backend)
        assert isinstance(packed[0], nn.Identity)  # the norm was folded
        assert torch.equal(packed(x), model(x))
