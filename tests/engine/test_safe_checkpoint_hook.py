"""A job killed while saving keeps its previous checkpoint and resumes from it; a real
``tools/train.py`` killed with SIGKILL resumes with ``--resume`` from its last checkpoint."""
import glob
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.fileio import LocalBackend
from torch.utils.data import Dataset


class _ToyData(Dataset):

    def __len__(self):
        return 32

    def __getitem__(self, i):
        x = torch.tensor([i / 32, 1.0])
        return dict(inputs=x, targets=x[:1] * 3)


def _runner(make, work_dir, max_iters, resume=False):
    return make(work_dir, _ToyData(), max_iters,
                default_hooks=dict(checkpoint=dict(type='SafeCheckpointHook', interval=2,
                                                   by_epoch=False, max_keep_ckpts=1)),
                resume=resume)


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch, toy_runner):
    _runner(toy_runner, tmp_path, 4).train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_4.pth']

    real_put = LocalBackend.put

    def killed_while_writing(self, obj, filepath):
        real_put(self, obj[:len(obj) // 3], filepath)  # a partial file, then the kill
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalBackend, 'put', killed_while_writing)
    with pytest.raises(KeyboardInterrupt):
        _runner(toy_runner, tmp_path, 8, resume=True).train()
    monkeypatch.setattr(LocalBackend, 'put', real_put)

    assert osp.isfile(tmp_path / 'iter_4.pth')
    assert not osp.exists(tmp_path / 'iter_6.pth')
    assert open(tmp_path / 'last_checkpoint').read() == str(tmp_path / 'iter_4.pth')

    runner = _runner(toy_runner, tmp_path, 8, resume=True)
    runner.train()
    assert runner.iter == 8
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_8.pth']


def test_max_keep_prunes_after_saving(tmp_path, toy_runner):
    _runner(toy_runner, tmp_path, 6).train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_6.pth']
    assert not any(f.endswith('.tmp') for f in os.listdir(tmp_path))


ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LR = 1e-3
#: a tiny ResNet on the embedded digits, by iterations, a checkpoint after every iteration
TINY_CONFIG = f"""
_base_ = ['{ROOT}/configs/cls/digits/real_resnet18_digits.py']
model = dict(timm_kwargs=dict(width=4, stem='small'))
train_dataloader = dict(batch_size=8)
train_cfg = dict(_delete_=True, by_epoch=False, max_iters=100000)
val_cfg = None
val_dataloader = None
val_evaluator = None
optim_wrapper = dict(optimizer=dict(type='Adam', lr={LR}, weight_decay=0.0))
param_scheduler = []
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(type='SafeCheckpointHook', interval=1, by_epoch=False, max_keep_ckpts=2,
                    save_best=None))
log_processor = dict(by_epoch=False, window_size=1)
randomness = dict(seed=0)
"""


def _train_cmd(cfg, work_dir, *extra):
    return [sys.executable, osp.join(ROOT, 'tools', 'train.py'), str(cfg), '--work-dir',
            str(work_dir), '--threads', '1', *extra]


def _load(path):
    from plugins.compat import load_local_checkpoint
    return load_local_checkpoint(path, map_location='cpu')


@pytest.mark.slow
def test_sigkilled_training_resumes_from_its_last_checkpoint(tmp_path):
    cfg = tmp_path / 'tiny_digits.py'
    cfg.write_text(TINY_CONFIG)
    work = tmp_path / 'work'
    with open(tmp_path / 'first.log', 'w') as log:
        job = subprocess.Popen(_train_cmd(cfg, work), cwd=str(tmp_path), stdout=log,
                               stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 600
            # 4 complete checkpoints, then kill. The hook keeps the last two, and an iteration
            # takes ~0.1 s, so look for any iter_k.pth with k >= 4 (iter_4.pth itself may be
            # gone before the next look)
            while not any(int(re.search(r'(\d+)', osp.basename(p)).group(1)) >= 4
                          for p in glob.glob(str(work / 'iter_*.pth'))):
                assert job.poll() is None, open(tmp_path / 'first.log').read()[-3000:]
                assert time.time() < deadline, 'no checkpoint after 10 minutes'
                time.sleep(0.2)
        finally:
            os.kill(job.pid, signal.SIGKILL)
            job.wait()
    assert job.returncode == -signal.SIGKILL
    last = open(work / 'last_checkpoint').read().strip()
    k = int(re.fullmatch(r'iter_(\d+)\.pth', osp.basename(last)).group(1))
    assert k >= 4
    before = _load(last)
    assert before['meta']['iter'] == k

    # resume with another seed: a run that restarted from 0 would start from other weights
    resumed = subprocess.run(
        _train_cmd(cfg, work, '--resume', '--cfg-options', f'train_cfg.max_iters={k + 1}',
                   'randomness.seed=123'),
        cwd=str(tmp_path), capture_output=True, text=True, timeout=900)
    out = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, out[-3000:]
    logged = [int(i) for i in re.findall(r'Iter\(train\) \[\s*(\d+)/', out)]
    assert logged == [k + 1], out[-3000:]  # the only iteration run is the one after k
    after = _load(work / f'iter_{k + 1}.pth')
    assert after['meta']['iter'] == k + 1

    # optimizer: Adam's step counter continues (k + 1, not 1)
    steps_before = {int(s['step']) for s in before['optimizer']['state'].values()}
    steps_after = {int(s['step']) for s in after['optimizer']['state'].values()}
    assert steps_before == {k} and steps_after == {k + 1}

    # weights: one Adam step away from the checkpoint. Adam moves each weight by at most
    # lr * (1 - beta1) / sqrt(1 - beta2) = 3.2 lr in one step, while a fresh seed-123 init
    # differs from the checkpoint by far more.
    w0, w1 = before['state_dict'], after['state_dict']
    params = [n for n, v in w0.items() if v.is_floating_point() and 'running' not in n]
    assert len(params) > 10
    step = max((w1[n] - w0[n]).abs().max().item() for n in params)
    assert 0 < step <= 3.2 * LR * 1.01
    import timm
    torch.manual_seed(123)
    fresh = timm.create_model('real_resnet18', num_classes=10, width=4, stem='small')
    far = max((v - w0['backbone.' + n]).abs().max().item()
              for n, v in fresh.state_dict().items() if 'backbone.' + n in params)
    assert far > 20 * step
