"""A real (short) training run through tools/train.py and tools/test.py: the loss falls,
PCKh rises, checkpoints save, training resumes, and evaluation reports the metric."""
import glob
import json
import os
import os.path as osp
import re

import pytest

from tools import test as test_tool
from tools import train as train_tool

pytestmark = pytest.mark.slow


def write_cfg(tmp_path, repo_root, data_root, extra=''):
    path = tmp_path / 'cfg.py'
    base = osp.join(repo_root, 'configs/pose/resnet_mpii_embedded.py')
    path.write_text(f'''
_base_ = [{base!r}]
data_root = {data_root + '/'!r}
model = dict(backbone=dict(base_channels=16),
             head=dict(in_channels=128, deconv_out_channels=(64, 64, 64)))
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root,
                                   headbox_file=data_root + 'annotations/mpii_gt_val.mat'))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(type='Adam', lr=3e-3))
param_scheduler = [dict(type='LinearLR', begin=0, end=5, start_factor=0.1, by_epoch=False)]
train_cfg = dict(max_iters=72, val_interval=12)  # 12 iterations = one pass over the set
milestones = [1000]
default_hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=24, max_keep_ckpts=3))
{extra}
''')
    return str(path)


def _scalars(work_dir):
    # one visualizer instance serves both runs of this process: read every log file
    rows = [json.loads(line) for log in sorted(glob.glob(f'{work_dir}/*/vis_data/scalars.json'))
            for line in open(log)]
    return [r for r in rows if 'loss' in r], [r for r in rows if 'PCK' in r]


def test_train_resume_and_test(tmp_path, repo_root, mpii_tiny):
    cfg = write_cfg(tmp_path, repo_root, mpii_tiny)
    work = str(tmp_path / 'work')
    train_tool.main([cfg, '--work-dir', work, '--cfg-options', 'train_cfg.max_iters=48'])
    assert 'iter_48.pth' in os.listdir(work)
    # resume from the latest checkpoint and train 24 more iterations
    runner = train_tool.main([cfg, '--work-dir', work, '--resume'])
    assert runner.iter == 72
    losses, pcks = _scalars(work)
    iters = [r['iter'] for r in losses]
    assert iters == sorted(iters) and iters[-1] == 72, f'resume restarted: {iters}'
    assert {'iter_48.pth', 'iter_72.pth'} <= set(os.listdir(work))
    all_losses = [r['loss'] for r in losses]
    first, last = sum(all_losses[:3]) / 3, sum(all_losses[-3:]) / 3
    # heatmap MSE is dominated by the background, so it falls slowly in absolute terms
    assert last < 0.93 * first, f'loss did not fall: {first:.5f} -> {last:.5f}'
    all_pck = [r['PCK'] for r in pcks]
    assert all_pck[-1] > max(2 * all_pck[0], all_pck[0] + 4), f'PCKh did not rise: {all_pck}'
    metrics = test_tool.main([cfg, f'{work}/iter_72.pth', '--work-dir', work,
                              '--out', str(tmp_path / 'metrics.json')])
    assert abs(metrics['PCK'] - all_pck[-1]) < 1e-6
    assert json.load(open(tmp_path / 'metrics.json'))['PCK'] == pytest.approx(metrics['PCK'])


def test_load_from_another_model_is_refused(tmp_path, repo_root, mpii_tiny):
    import torch
    from torch import nn
    other = str(tmp_path / 'other.pth')
    torch.save({'state_dict': nn.Linear(3, 3).state_dict()}, other)
    cfg = write_cfg(tmp_path, repo_root, mpii_tiny)
    from plugins.engine import CheckpointMismatchError
    with pytest.raises(CheckpointMismatchError, match=re.escape(other)):
        train_tool.main([cfg, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                         f'load_from={other}'])
