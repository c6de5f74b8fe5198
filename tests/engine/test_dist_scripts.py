"""tools/dist_train.sh and tools/dist_test.sh run the repository's .venv python when PYTHON is
unset (the system python has no torch), and PYTHON still overrides it."""
import os
import os.path as osp
import shutil
import socket
import stat
import subprocess
import sys

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _executable(path, text):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture()
def fake_repo(tmp_path, repo_root):
    """A copy of the scripts beside a ``.venv/bin/python`` that marks its use, a stub tool
    that reports the marker, and a PATH whose python/python3 fail like a python without
    torch."""
    (tmp_path / 'tools').mkdir()
    for name in ('dist_train.sh', 'dist_test.sh'):
        shutil.copy(osp.join(repo_root, 'tools', name), tmp_path / 'tools' / name)
    for name in ('train.py', 'test.py'):
        (tmp_path / 'tools' / name).write_text(
            'import os, sys\nprint("tool", os.environ.get("WHICH_PYTHON"), sys.argv[1:])\n')
    (tmp_path / '.venv' / 'bin').mkdir(parents=True)
    _executable(tmp_path / '.venv' / 'bin' / 'python',
                f'#!/bin/sh\nWHICH_PYTHON=venv exec {sys.executable} "$@"\n')
    system = tmp_path / 'system_bin'
    system.mkdir()
    for name in ('python', 'python3'):
        _executable(system / name, "#!/bin/sh\necho \"No module named 'torch'\" >&2\nexit 97\n")
    env = dict(os.environ, PATH=f'{system}:/usr/bin:/bin', PORT=str(_free_port()),
               OMP_NUM_THREADS='1')
    env.pop('PYTHON', None)
    return tmp_path, env


@pytest.mark.parametrize('script,args', [('dist_train.sh', ['cfg.py', '1']),
                                         ('dist_test.sh', ['cfg.py', 'ckpt.pth', '1'])])
def test_dist_scripts_use_the_repository_venv(fake_repo, script, args):
    root, env = fake_repo
    proc = subprocess.run(['bash', str(root / 'tools' / script), *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'tool venv' in proc.stdout and '--launcher' in proc.stdout


def test_python_variable_still_overrides(fake_repo):
    root, env = fake_repo
    env['PYTHON'] = str(root / 'system_bin' / 'python')
    proc = subprocess.run(['bash', str(root / 'tools' / 'dist_train.sh'), 'cfg.py', '1'],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 97 and 'torch' in proc.stderr
