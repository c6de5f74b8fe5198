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


BINARY_1X1 = dict(type='BinaryConv2d', scale='learned', scale_shape='channel',
                  scale_init='xnor')


def binary_1x1_hourglass(**kw):
    """A binary HPM hourglass whose 1x1 feature / merge convs and projection skips are
    binary too (the knobs of configs/pose/binary_hg_mpii_binary_1x1.py)."""
    block = dict(type='HPMBlock', conv_cfg=BINARY_1X1, act_cfg=None, skip_conv_cfg=BINARY_1X1,
                 skip_act_cfg=None)
    return tiny(block=block, feature_conv_cfg=BINARY_1X1, feature_pre_norm=True, **kw)


def test_feature_conv_cfg_defaults_to_head_conv_cfg():
    """Old configs: ``head_conv_cfg`` still sets the feature, heatmap and merge convs, and a
    model without the new knobs has no extra norms (same parameters as before)."""
    from plugins.binary import BinaryConv2d
    m = tiny(head_conv_cfg=dict(type='BinaryConv2d'))
    for conv in (m.features[0][1][0], m.heatmaps[0], m.merge_features[0], m.merge_heatmaps[0]):
        assert isinstance(conv, BinaryConv2d)
    plain = tiny()
    assert type(plain.merge_features[0]) is torch.nn.Conv2d
    assert [type(x) for x in plain.features[0][1]] == [torch.nn.Conv2d, torch.nn.BatchNorm2d,
                                                       torch.nn.ReLU]


def test_binary_1x1_knobs_binarise_features_merges_and_skips_not_stem_or_heatmaps():
    from plugins.binary import BinaryConv2d
    m = binary_1x1_hourglass()
    real = [n for n, x in m.named_modules()
            if isinstance(x, torch.nn.Conv2d) and not isinstance(x, BinaryConv2d)]
    assert real == ['stem.0.0', 'heatmaps.0', 'heatmaps.1']
    ones = [n for n, x in m.named_modules() if isinstance(x, BinaryConv2d)
            and x.kernel_size == (1, 1)]
    assert ones == ['stem.1.shortcut.path.conv', 'features.0.1.1', 'features.1.1.1',
                    'merge_features.0.conv', 'merge_heatmaps.0.conv']
    # every binary 1x1 conv reads a BatchNorm output, with no activation in between
    assert isinstance(m.stem[1].shortcut.path.norm, torch.nn.BatchNorm2d)
    assert isinstance(m.stem[1].shortcut.path.act, torch.nn.Identity)
    assert isinstance(m.features[0][1][0], torch.nn.BatchNorm2d)
    assert isinstance(m.merge_heatmaps[0].act, torch.nn.Identity)


def test_binary_merge_is_the_binary_conv_of_the_normalised_input():
    """``merge_features`` with ``feature_pre_norm``: ``conv(BN(y))`` computed by hand, the conv
    reading the signs of the norm's output (not of the ReLU output before it)."""
    import torch.nn.functional as F
    m = binary_1x1_hourglass().eval()
    merge = m.merge_features[0]
    with torch.no_grad():
        merge.norm.running_mean.uniform_(0.2, 1.0)
        merge.norm.running_var.uniform_(0.5, 2.0)
        y = torch.relu(torch.randn(2, 16, 4, 4))
        bn = (y - merge.norm.running_mean.view(1, -1, 1, 1)) / torch.sqrt(
            merge.norm.running_var.view(1, -1, 1, 1) + merge.norm.eps) * \
            merge.norm.weight.view(1, -1, 1, 1) + merge.norm.bias.view(1, -1, 1, 1)
        signs = torch.where(bn < 0, -1.0, 1.0)
        w = torch.where(merge.conv.weight < 0, -1.0, 1.0)
        scale = merge.conv.scaling.alpha.view(1, -1, 1, 1)  # learned, per output channel
        ref = F.conv2d(signs, w) * scale + merge.conv.bias.view(1, -1, 1, 1)
        torch.testing.assert_close(merge(y), ref)
        assert (signs < 0).any()  # the norm makes some signs negative


def test_binary_1x1_hourglass_trains():
    m = binary_1x1_hourglass()
    x = torch.randn(2, 3, 32, 32)
    sum(o.square().mean() for o in m(x)).backward()
    for name in ('stem.1.shortcut.path.conv.weight', 'features.0.1.1.weight',
                 'merge_features.0.conv.weight', 'merge_heatmaps.0.conv.weight'):
        assert m.get_parameter(name).grad.abs().sum() > 0, name


@pytest.mark.parametrize('act_cfg,skip_act_cfg,expected', [
    (None, 'block', torch.nn.ReLU), (dict(type='ReLU'), 'block', torch.nn.ReLU),
    (dict(type='PReLU'), 'block', torch.nn.PReLU), (None, None, torch.nn.Identity),
    (None, dict(type='PReLU'), torch.nn.PReLU)])
@pytest.mark.parametrize('block', ['HPMBlock', 'PreActBottleneck'])
def test_projection_skip_activation(block, act_cfg, skip_act_cfg, expected):
    from plugins.pose.registry import build_block
    b = build_block(dict(type=block, act_cfg=act_cfg, skip_act_cfg=skip_act_cfg), 8, 16)
    assert type(b.shortcut.path.act) is expected


def test_bad_skip_act_cfg():
    from plugins.pose.registry import build_block
    with pytest.raises(ValueError, match="skip_act_cfg must be 'block'"):
        build_block(dict(type='HPMBlock', skip_act_cfg='relu'), 8, 16)


def test_binary_1x1_config_binarises_the_main_job_model_1x1_convs():
    """configs/pose/binary_hg_mpii_binary_1x1.py: the main job model with binary 1x1 convs
    (same 3x3 binary convs, same BinaryConv2d settings), stem and heatmap convs real."""
    import os.path as osp
    from mmengine.registry import DefaultScope
    from plugins.binary import BinaryConv2d
    from plugins.engine.config_rebind import load_config
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    models = {}
    for name in ('binary_hg_mpii', 'binary_hg_mpii_binary_1x1'):
        cfg = load_config(osp.join(root, 'configs', 'pose', f'{name}.py'))
        with DefaultScope.overwrite_default_scope('mmpose'):
            models[name] = MODELS.build(cfg.model).backbone
    base, ones = models['binary_hg_mpii'], models['binary_hg_mpii_binary_1x1']
    binary = lambda m: {n: x for n, x in m.named_modules() if isinstance(x, BinaryConv2d)}  # noqa
    extra = sorted(set(binary(ones)) - set(binary(base)))
    assert extra == ['features.0.1.1', 'features.1.1.1', 'merge_features.0.conv',
                     'merge_heatmaps.0.conv', 'stem.2.shortcut.path.conv']  # pool first
    assert set(binary(base)) <= set(binary(ones))
    settings = lambda c: (type(c.scaling).__name__, c.scaling.shape, c.scaling.init,  # noqa
                          type(c.act_quantizer).__name__, type(c.weight_quantizer).__name__)
    ref = settings(binary(base)['stem.2.branches.0.conv'])
    assert all(settings(binary(ones)[n]) == ref for n in extra)
    real = [n for n, x in ones.named_modules()
            if isinstance(x, torch.nn.Conv2d) and not isinstance(x, BinaryConv2d)]
    assert real == ['stem.0.0', 'heatmaps.0', 'heatmaps.1']
