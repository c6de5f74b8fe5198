"""Binary 1x1 convs (issue 14: "real 1x1 projections may be binarised, as an export option,
where a config asks"): the packed model equals the float binary model bit for bit.

The hourglass of configs/pose/binary_hg_mpii_binary_1x1.py binarises the per-stack 1x1
``features`` / ``merge_features`` / ``merge_heatmaps`` convs and the blocks' 1x1 projection
skips (each behind a BatchNorm); the reference is always the float binary model's own forward.
"""
import os.path as osp
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d
from plugins.deploy import (ExportReport, PackedBinaryConv2d, export_binary, load_packed,
                            save_packed)
from plugins.pose.layers import PreActConv
from tests.deploy.test_deploy_chain import trained_like

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONV = dict(type='BinaryConv2d', scale='learned', scale_shape='channel', scale_init='xnor')


@pytest.mark.parametrize('seed', range(8))
def test_packed_1x1_conv_is_the_conv_of_the_signs(seed, two_threads_everywhere):
    """PackedBinaryConv2d with a 1x1 kernel (widths off and on the 64-bit word, the hourglass's
    16 -> C merge of the heatmaps among them): integer sums of an independent float conv."""
    rng = random.Random(seed)
    c, o = rng.choice([16, 64, 100, 128, 256]), rng.choice([16, 64, 128, 130, 256])
    x = torch.randn(rng.randint(1, 2), c, rng.randint(1, 20), rng.randint(1, 20))
    x.view(-1)[::9] = -0.0  # sign bit set: -1
    signs = torch.where(torch.rand(o, c, 1, 1) < 0.5, -1.0, 1.0)
    layer = PackedBinaryConv2d.from_signs(signs)
    ref = F.conv2d(torch.where(torch.signbit(x), -1.0, 1.0), signs)
    assert torch.equal(layer(x), ref)


@pytest.mark.parametrize('seed', range(6))
def test_norm_then_binary_1x1_conv_packs_bit_exact(seed, two_threads_everywhere):
    """``BN -> binary 1x1 conv`` (PreActConv, as the merges and projection skips): the norm is
    folded into the packing, and the output equals the float binary layer's."""
    rng = random.Random(seed)
    c, o = rng.choice([16, 40, 64, 128, 256]), rng.choice([32, 64, 128, 256])
    unit = trained_like(PreActConv(c, o, 1, CONV, act_cfg=None, bias=rng.random() < 0.5), rng)
    with torch.no_grad():
        unit.conv.scaling.alpha.uniform_(0.5, 1.5)
    report = ExportReport()
    packed = export_binary(unit, report=report)
    assert report.packed == ['conv'] and report.folded_norms == ['norm']
    x = torch.randn(rng.randint(1, 2), c, rng.randint(1, 16), rng.randint(1, 16))
    with torch.no_grad():
        assert torch.equal(packed(x), unit(x))


def binary_1x1_hourglass(stacks=2, channels=64, out_channels=5, block='HPMBlock'):
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpose'):
        return MODELS.build(dict(
            type='StackedHourglass', num_stacks=stacks, depth=2, channels=channels,
            out_channels=out_channels, stem_channels=(16, 32),
            block=dict(type=block, conv_cfg=CONV, act_cfg=None, skip_conv_cfg=CONV,
                       skip_act_cfg=None),
            feature_conv_cfg=CONV, feature_pre_norm=True))


ONES = ['stem.1.shortcut.path.conv', 'stem.4.shortcut.path.conv', 'features.0.1.1',
        'features.1.1.1', 'merge_features.0.conv', 'merge_heatmaps.0.conv']


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('block', ['HPMBlock', 'PreActBottleneck'])
def test_binary_1x1_hourglass_packs_every_1x1_conv_bit_exact(seed, block,
                                                             two_threads_everywhere):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model = binary_1x1_hourglass(block=block, out_channels=rng.choice([5, 16]))
    model = trained_like(model, rng)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('scaling.alpha'):
                p.uniform_(0.5, 1.5)
    report = ExportReport()
    packed = export_binary(model, report=report)
    assert set(ONES) <= set(report.packed)
    assert not report.skipped
    # the norms in front of the 1x1 convs are folded into their packing
    assert {'features.0.1.0', 'merge_features.0.norm', 'merge_heatmaps.0.norm',
            'stem.1.shortcut.path.norm'} <= set(report.folded_norms)
    # the first and last layers stay real
    for name in ('stem.0.0', 'heatmaps.0', 'heatmaps.1'):
        assert type(packed.get_submodule(name)) is nn.Conv2d
    for _ in range(2):
        side = 16 * rng.randint(2, 5)
        x = torch.randn(rng.randint(1, 2), 3, side, 16 * rng.randint(2, 5))
        with torch.no_grad():
            ref, out = model(x), packed(x)
        assert len(ref) == len(out) == 2
        assert all(torch.equal(r, o) for r, o in zip(ref, out))


def test_binary_1x1_config_exports_bit_exact_and_round_trips(tmp_path):
    """The model of configs/pose/binary_hg_mpii_binary_1x1.py (the main job's, 128 px) with
    random trained-like norms: packed == float binary model, also after save/load."""
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS
    from plugins.engine.config_rebind import load_config
    cfg = load_config(osp.join(ROOT, 'configs', 'pose', 'binary_hg_mpii_binary_1x1.py'))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = trained_like(MODELS.build(cfg.model).backbone, random.Random(5))
    report = ExportReport()
    packed = export_binary(model, report=report)
    n_binary = sum(isinstance(m, BinaryConv2d) for m in model.modules())
    assert len(report.packed) == n_binary and not report.skipped
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        ref, out = model(x), packed(x)
        assert all(torch.equal(r, o) for r, o in zip(ref, out))
        save_packed(packed, tmp_path / 'hg1x1.bnn')
        with DefaultScope.overwrite_default_scope('mmpose'):
            fresh = MODELS.build(cfg.model).backbone
        again = load_packed(tmp_path / 'hg1x1.bnn', model=fresh)(x)
    assert all(torch.equal(r, o) for r, o in zip(ref, again))
