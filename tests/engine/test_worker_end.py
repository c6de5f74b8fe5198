"""tools/runner_args.end_process_group / exit_launched_worker: a launched process leaves its
process group and exits without the interpreter teardown in which a rank aborted now and then
(the two-process test of test_distributed.py is the end-to-end check)."""
import socket

import torch.distributed as dist

from tools.runner_args import end_process_group


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_without_a_process_group_nothing_happens():
    assert not dist.is_initialized()
    end_process_group()
    assert not dist.is_initialized()


def test_a_process_group_is_destroyed():
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{_free_port()}', rank=0,
                            world_size=1)
    try:
        assert dist.is_initialized()
        end_process_group()
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


SCRIPT = '''
import logging, sys
sys.path.insert(0, {root!r})
from tools.runner_args import exit_launched_worker
log = logging.getLogger('t')
log.addHandler(logging.FileHandler({log!r}))
log.warning('logged before the exit')
sys.stdout.write('printed before the exit')  # no newline: still buffered
exit_launched_worker()
print(' - and after it')
'''


def _run(tmp_path, repo_root, world_size):
    import os
    import subprocess
    import sys
    log = str(tmp_path / 'run.log')
    env = dict(os.environ)
    env.pop('WORLD_SIZE', None)
    if world_size:
        env['WORLD_SIZE'] = world_size
    proc = subprocess.run([sys.executable, '-c', SCRIPT.format(root=repo_root, log=log)],
                          env=env, capture_output=True, text=True, timeout=120)
    return proc, open(log).read()


def test_a_launched_worker_exits_at_once_with_its_output_flushed(tmp_path, repo_root):
    proc, log = _run(tmp_path, repo_root, '2')
    assert proc.returncode == 0
    assert proc.stdout == 'printed before the exit'  # flushed, and nothing after the exit
    assert 'logged before the exit' in log


def test_a_single_process_goes_on(tmp_path, repo_root):
    for world_size in (None, '1'):
        proc, _ = _run(tmp_path, repo_root, world_size)
        assert proc.returncode == 0
        assert proc.stdout == 'printed before the exit - and after it\n'
