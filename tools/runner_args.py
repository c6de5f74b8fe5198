"""Command-line arguments that tools/train.py and tools/test.py share."""
import argparse
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """``--skip-data-check``, ``--cfg-options``, ``--threads``, ``--launcher``, ``--local-rank``."""
    parser.add_argument('--skip-data-check', action='store_true',
                        help='skip the pre-flight check of data roots, annotations and images')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, as key=value pairs (xxx=yyy)')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch intra-op threads of each process (default: torch\'s own; '
                        '1 is faster on a busy machine)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def apply_process_args(args: argparse.Namespace) -> None:
    """Set the local rank (for the launcher) and the torch threads of this process."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.threads:
        torch.set_num_threads(args.threads)


def set_work_dir(cfg: Config, args: argparse.Namespace) -> None:
    """``--work-dir``, else the config's, else ``work_dirs/<config name>``."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    own_visualizer(cfg)


def own_visualizer(cfg: Config) -> None:
    """Give the run its own visualizer instance.

    MMPose's runtime names its visualizer ``'visualizer'``, and mmengine's Runner reuses an
    existing instance of that name, with the first run's log folder. A second run in the same
    process (a notebook, ``--resume`` after a first ``main()``, a test session) would then
    write its ``scalars.json`` into the first run's folder. The name gets this process's run
    counter appended, so every run logs into its own work dir.
    """
    vis = cfg.get('visualizer')
    if isinstance(vis, dict):
        global _RUNS
        _RUNS += 1
        vis['name'] = f"{vis.get('name') or 'visualizer'}_run{_RUNS}"


_RUNS = 0
