"""Two trainings in one process log into their own work dirs.

MMPose's runtime names its visualizer ``'visualizer'`` and mmengine's Runner reuses an existing
instance of that name, with the first run's log folder; ``tools/runner_args.own_visualizer``
gives each run its own instance. Before it, the second run's ``scalars.json`` went into the
first run's folder (and a test that ran after any other training found no log of its own).
"""
import glob
import json
import os.path as osp

import pytest

from tools import train as train_tool

pytestmark = pytest.mark.slow


def _logged_iters(work_dir: str) -> list:
    iters = []
    for log in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        iters += [json.loads(line)['iter'] for line in open(log) if '"loss"' in line]
    return sorted(iters)


def test_each_run_logs_into_its_own_work_dir(tmp_path, repo_root, mpii_tiny):
    from tests.engine.test_training import write_cfg
    cfg = write_cfg(tmp_path, repo_root, mpii_tiny)
    first, second = str(tmp_path / 'first'), str(tmp_path / 'second')
    opts = ['--no-validate', '--cfg-options']
    train_tool.main([cfg, '--work-dir', first, *opts, 'train_cfg.max_iters=4'])
    train_tool.main([cfg, '--work-dir', second, *opts, 'train_cfg.max_iters=6'])
    # logger interval 2: iterations 2, 4 in the first run; 2, 4, 6 in the second
    assert _logged_iters(first) == [2, 4]
    assert _logged_iters(second) == [2, 4, 6]
