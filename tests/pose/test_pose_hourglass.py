"""plugins/pose/{hourglass,hybrid}.py."""
import pytest
import torch
from mmpose.registry import MODELS

from plugins.pose import HourglassModule, HybridHourglassModule, StackedHourglass


def tiny(**kw):
    cfg = dict(type='StackedHourglass', num_stacks=2, depth=2, channels=16, out_channels=5,
               stem_channels=(8, 16), block=dict(type='HPMBlock'))
    cfg.update(kw)
    return MODELS.build(cfg)


@pytest.mark.parametrize('hourglass', [None, dict(type='HybridHourglassModule'),
                                       dict(type='HourglassModule', skip_gate=True)])
@pytest.mark.parametrize('stacks', [1, 3])
def test_one_heatmap_per_stack(hourglass, stacks):
    m = tiny(num_stacks=stacks, hourglass=hourglass)
    x = torch.randn(2, 3, 32, 48, requires_grad=True)
    outs = m(x)
    assert isinstance(outs, tuple) and len(outs) == stacks
    assert all(o.shape == (2, 5, 8, 12) for o in outs)
    sum(o.mean() for o in outs).backward()
    assert x.grad.abs().sum() > 0


def test_later_stacks_see_earlier_heatmaps():
    m = tiny(num_stacks=2).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        a = m(x)
        m.merge_heatmaps[0].weight.mul_(3)
        b = m(x)
    torch.testing.assert_close(a[0], b[0])
    assert not torch.allclose(a[1], b[1])


@pytest.mark.parametrize('kw', [dict(skip_branch='identity'), dict(skip_branch='block'),
                                dict(merge='add'), dict(upsample='bilinear'),
                                dict(merge_layer='conv')])
def test_hybrid_options(kw):
    m = HybridHourglassModule(2, 8, dict(type='PreActBottleneck'), **kw)
    assert m(torch.randn(1, 8, 8, 8)).shape == (1, 8, 8, 8)


def test_hybrid_has_fewer_identity_blocks_than_hourglass():
    blk = dict(type='PreActBottleneck')
    hg, hy = HourglassModule(3, 16, blk), HybridHourglassModule(3, 16, blk)
    count = lambda m: sum(isinstance(x, torch.nn.Identity) for x in m.modules())  # noqa
    assert count(hy) < count(hg)


def test_bad_inputs():
    m = tiny(depth=3)
    with pytest.raises(ValueError, match=r'divisible by .* = 32, got 40x32'):
        m(torch.randn(1, 3, 40, 32))
    with pytest.raises(ValueError, match='num_stacks.*0'):
        tiny(num_stacks=0)
    with pytest.raises(KeyError, match="'Nope'.*allowed.*HPMBlock"):
        tiny(block=dict(type='Nope'))
    with pytest.raises(KeyError, match="'Nope'.*allowed.*HourglassModule"):
        tiny(hourglass=dict(type='Nope'))
    with pytest.raises(ValueError, match="'sideways'.*concat"):
        tiny(hourglass=dict(type='HybridHourglassModule', merge='sideways'))


def test_newell_8_stack_is_about_25m_parameters():
    m = StackedHourglass(num_stacks=8, depth=4, channels=256, out_channels=16)
    n = sum(p.numel() for p in m.parameters())
    assert 25.0e6 < n < 25.8e6  # Newell et al. report ~25M (docs/pose.md)


def test_binary_hourglass(binary_conv):
    blk = dict(type='HPMBlock', conv_cfg=binary_conv(scale='learned', scale_shape='channel'),
               act_cfg=None)
    m = tiny(block=blk)
    outs = m(torch.randn(2, 3, 32, 32))
    assert len(outs) == 2 and outs[-1].shape == (2, 5, 8, 8)


def test_level_channels_widen_the_low_resolution_scales():
    blk = dict(type='PreActBottleneck')
    m = HourglassModule(3, 16, blk, level_channels=(16, 32, 48, 64))
    # walk down the nested hourglasses: each scale's down block widens to the next width
    widths, node = [], m
    while isinstance(node, HourglassModule):
        widths.append((node.up[0].out_channels, node.down[0].out_channels,
                       node.after[0].in_channels, node.after[0].out_channels))
        node = node.inner
    assert widths == [(16, 32, 32, 16), (32, 48, 48, 32), (48, 64, 64, 48)]
    assert node[0].in_channels == node[0].out_channels == 64  # innermost blocks
    x = torch.randn(2, 16, 16, 16)
    assert m(x).shape == x.shape
    with pytest.raises(ValueError, match='depth \\+ 1 = 4.*channels=16'):
        HourglassModule(3, 16, blk, level_channels=(16, 32, 64))
    with pytest.raises(ValueError, match='starting with channels=16'):
        HourglassModule(3, 16, blk, level_channels=(32, 32, 48, 64))


def test_heatmap_layers_start_near_zero():
    """Predicted heatmaps start ~0 (MMPose's HeatmapHead init), not at target-peak size."""
    torch.manual_seed(0)
    small = tiny().eval()
    torch.manual_seed(0)
    default = tiny(heatmap_init_std=None).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        a, b = small(x)[0].abs().max(), default(x)[0].abs().max()
    assert a < 0.02 < 0.1 < b
    for conv in small.heatmaps:
        assert abs(conv.weight.std().item() - 0.001) < 0.0005 and conv.bias.abs().max() == 0


@pytest.mark.parametrize('pool_first, side', [(False, 16), (True, 8)])
def test_stem_pool_first_runs_every_stem_block_at_quarter_size(pool_first, side):
    m = tiny(stem_pool_first=pool_first).eval()
    sizes = []
    for mod in m.stem:
        if not isinstance(mod, (torch.nn.MaxPool2d, torch.nn.Sequential)):
            mod.register_forward_hook(lambda _m, i, o: sizes.append(i[0].shape[-1]))
    with torch.no_grad():
        outs = m(torch.randn(1, 3, 32, 32))
    assert sizes[0] == side and sizes[1:] == [8, 8]  # the first block at H/2 or H/4
    assert outs[-1].shape == (1, 5, 8, 8)
