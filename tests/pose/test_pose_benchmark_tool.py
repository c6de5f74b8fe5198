"""tools/benchmark_pose.py: the complexity/latency part on one small config, against counts
taken directly from the built network (parameters by layer type, binary MACs by forward
hooks on the binary convolutions)."""
import copy
import importlib.util
import json
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from plugins.binary import BinaryConv2d

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _direct_counts(size):
    """Real/binary parameters and binary MACs of configs/pose/binary_hg_mpii.py at
    (1, 3, size, size), counted without plugins.analysis."""
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pose/binary_hg_mpii.py'))
    model = MODELS.build(copy.deepcopy(cfg.model)).eval()
    binary = [m for m in model.modules() if isinstance(m, BinaryConv2d)]
    binary_params = sum(m.weight.numel() for m in binary)
    real_params = sum(p.numel() for p in model.parameters()) - binary_params
    macs = []

    def count(m, inputs, output):  # one XNOR-popcount per weight bit and output position
        macs.append(output.numel() * m.weight[0].numel())

    handles = [m.register_forward_hook(count) for m in binary]
    with torch.no_grad():
        model(torch.randn(1, 3, size, size), None, mode='tensor')
    for h in handles:
        h.remove()
    return real_params, binary_params, sum(macs)


def test_benchmark_no_train_row(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        'benchmark_pose_tool', osp.join(ROOT, 'tools/benchmark_pose.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.chdir(ROOT)
    rows = tool.main(['--only', 'binary_hg_mpii', '--no-train', '--runs', '1', '--size', '64',
                      '--work-dir', str(tmp_path)])
    (row,) = rows
    real, binary, bops = _direct_counts(64)
    assert binary > 10 * real > 0
    assert (row['real_params'], row['binary_params'], row['bops']) == (real, binary, bops)
    # the protocol's definitions (CONTRIBUTING.md): 32-bit reals + 1 bit per binary weight,
    # and the papers' FLOPs + BOPs / 64
    assert row['packed_bytes'] == 4 * real + (binary + 7) // 8
    assert row['ops'] == row['flops'] + bops / 64 and row['flops'] > 0
    assert row['latency_ms'] > 0
    assert 'binary_hg_mpii' in open(tmp_path / 'benchmark.md').read()
    assert json.load(open(tmp_path / 'benchmark.json'))['rows'][0]['name'] == 'binary_hg_mpii'
