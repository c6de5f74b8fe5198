"""The papers' network sizes (configs/*/*-256x256.py) resolve, build and run."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope

from plugins.analysis import complexity
from plugins.engine.config_rebind import load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PAPER = sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*-256x256.py')))
STACKS = {'hg8': 8, 'binary_hg1': 1, 'fan4': 4}


def _fields(node, name):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == name:
                yield v
            yield from _fields(v, name)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _fields(v, name)


def test_every_area_has_paper_configs():
    names = {osp.basename(p) for p in PAPER}
    for ds in ('mpii', 'lsp'):
        assert {f'hg8_{ds}-256x256.py', f'binary_hg1_{ds}-256x256.py'} <= names
    for ds in ('300w', 'aflw', 'wflw'):
        assert {f'fan4_{ds}-256x256.py', f'binary_hg1_{ds}-256x256.py'} <= names


@pytest.mark.parametrize('path', PAPER, ids=osp.basename)
def test_paper_config_resolves_builds_and_runs(path):
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    cfg = load_config(path)
    d = cfg.to_dict()
    stacks = next(v for k, v in STACKS.items() if osp.basename(path).startswith(k))
    assert [tuple(v) for v in _fields(d, 'input_size')] and all(
        tuple(v) == (256, 256) for v in _fields(d, 'input_size'))
    assert all(tuple(v) == (64, 64) for v in _fields(d, 'heatmap_size'))
    bb = cfg.model.backbone
    assert (bb.depth, bb.channels, bb.num_stacks, cfg.model.head.num_stacks) == (
        4, 256, stacks, stacks)
    assert not bb.get('stem_pool_first', False)  # the papers' stem: first block at H/2
    model = MODELS.build(cfg.model).eval()
    k = bb.out_channels
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 256, 256), None, mode='tensor')
    assert len(outs) == stacks and all(o.shape == (1, k, 64, 64) for o in outs)


def test_sizes_against_the_papers():
    """Newell's 8-stack HG: ~25 M parameters; the released binary MPII model: 1.3 MB."""
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    hg8 = MODELS.build(load_config(osp.join(ROOT, 'configs/pose/hg8_mpii-256x256.py')).model)
    n = sum(p.numel() for p in hg8.backbone.parameters())
    assert 24.5e6 < n < 26.0e6
    cfg = load_config(osp.join(ROOT, 'configs/pose/binary_hg1_mpii-256x256.py'))
    binary = MODELS.build(cfg.model).backbone.eval()
    packed = complexity(binary, (1, 3, 256, 256)).packed_bytes
    assert abs(packed - 1.3e6) / 1.3e6 < 0.05, packed  # within 5 % of the released file
