"""Data-loader workers exit when tools/train.py is killed with SIGKILL (issue 16 item 10).

A real training subprocess with two persistent workers is killed; its workers must be gone
within 3 s (torch's own watchdog polls the parent every 5 s, and a worker whose result pipe
is full may never exit)."""
import ctypes
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from plugins.engine.worker_exit import ExitWithParent

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'),
                                reason='PR_SET_PDEATHSIG is Linux-only')


def _children(pid: int) -> set:
    """Direct children of ``pid`` (from /proc/<pid>/task/*/children)."""
    out = set()
    try:
        for tid in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{tid}/children') as f:
                out |= {int(c) for c in f.read().split()}
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def _alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return False


class _Probe(Dataset):
    """Returns what the worker process sees: the mark set by the inner worker_init_fn and
    its parent-death signal (prctl PR_GET_PDEATHSIG)."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        sig = ctypes.c_int(0)
        ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(sig), 0, 0, 0)
        return torch.tensor([int(os.environ.get('WORKER_MARK', '0')), sig.value])


def _mark(worker_id):
    os.environ['WORKER_MARK'] = str(worker_id + 7)


def test_workers_get_sigkill_on_parent_death_and_run_the_original_init_fn():
    loader = DataLoader(_Probe(), batch_size=1, num_workers=1,
                        worker_init_fn=ExitWithParent(_mark))
    rows = torch.cat(list(loader))
    assert rows[:, 0].tolist() == [7, 7]  # the wrapped worker_init_fn ran
    assert rows[:, 1].tolist() == [signal.SIGKILL] * 2
    plain = torch.cat(list(DataLoader(_Probe(), batch_size=1, num_workers=1)))
    assert plain[:, 1].tolist() == [0, 0]  # torch alone sets none


def test_runner_data_loaders_get_the_wrapper(tmp_path):
    from mmengine.runner import Runner
    loader = Runner.build_dataloader(dict(
        dataset=_Probe(), sampler=dict(type='DefaultSampler', shuffle=False), batch_size=1,
        num_workers=1, collate_fn=dict(type='default_collate')), seed=0)
    assert isinstance(loader.worker_init_fn, ExitWithParent)
    assert loader.worker_init_fn.inner is not None  # mmengine's seeding still runs
    assert torch.cat(list(loader))[:, 1].tolist() == [signal.SIGKILL] * 2


@pytest.mark.slow
def test_workers_exit_after_sigkill_of_train_py(tmp_path, repo_root, mpii_tiny):
    cmd = [sys.executable, os.path.join(repo_root, 'tools/train.py'),
           os.path.join(repo_root, 'configs/pose/hg_mpii.py'), '--threads', '1',
           '--no-validate', '--work-dir', str(tmp_path / 'work'), '--cfg-options',
           f'data_root={mpii_tiny}/', 'max_iters=100000', 'train_dataloader.batch_size=2',
           'train_dataloader.num_workers=2', 'train_dataloader.persistent_workers=True']
    proc = subprocess.Popen(cmd, cwd=str(tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, PROGRESS='off'))
    workers = set()
    try:
        deadline = time.time() + 300
        while len(workers) < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
            workers = {p for p in _children(proc.pid) if _alive(p)}
        assert len(workers) == 2, f'no two workers (exit code {proc.poll()}, {workers})'
        time.sleep(2)  # the workers are loading batches
        assert all(_alive(p) for p in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 3
        while any(_alive(p) for p in workers) and time.time() < deadline:
            time.sleep(0.1)
        assert not [p for p in workers if _alive(p)], 'workers outlived the trainer'
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in workers:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
