"""Data-parallel training through mmengine's own launch: two CPU processes (gloo)."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

from test_training import write_cfg

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_ddp_ranks_agree(tmp_path, repo_root, mpii_tiny):
    cfg = write_cfg(tmp_path, repo_root, mpii_tiny, extra='''
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='DDPConsistencyHook', interval=3)]
train_cfg = dict(max_iters=6, val_interval=100)
''')
    work = str(tmp_path / 'work')
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', osp.join(repo_root, 'tools/dist_train.sh'), cfg, '2', '--work-dir', work,
         '--no-validate'], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.load(open(osp.join(work, 'ddp_consistency.json')))
    assert result['world_size'] == 2 and result['agree']
    a, b = result['fingerprints']
    assert a == pytest.approx(b, rel=1e-6)
    assert result['iter'] == 6  # 192 images / 2 ranks / batch 16
    assert osp.isfile(osp.join(work, 'iter_6.pth'))
