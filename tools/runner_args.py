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


def end_process_group() -> None:
    """Leave the distributed job cleanly after a process's work is done: a barrier, so no rank
    tears down while another still talks to it, then ``destroy_process_group`` (joins gloo's
    threads). Nothing without a process group. Call it only on success: after an error the
    other ranks may never reach the barrier."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def exit_launched_worker() -> None:
    """End a worker of a multi-process launch (``WORLD_SIZE`` > 1) once its work is done,
    without the interpreter's teardown: flush Python's streams and logging handlers, then
    ``os._exit(0)``. In 2-process gloo trainings on CPU a rank aborted now and then *after* its
    last checkpoint, during interpreter shutdown ("terminate called without an active
    exception", which libstdc++ prints when a joinable C++ thread is destroyed; 8 of 83 runs
    of tests/engine/test_distributed.py, 2 of 135 even after :func:`end_process_group`, 0 of
    55 with this exit), which failed the launch. Single processes exit normally."""
    if int(os.environ.get('WORLD_SIZE', '1')) <= 1:
        return
    import logging
    import sys
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(0)


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
