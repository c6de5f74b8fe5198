"""Set torch's intra-op thread count for a run (``custom_hooks=[dict(type='SRNumThreadsHook')]``).

On a CPU shared by several jobs, PyTorch's default (one OpenMP thread per core) makes threads
spin-wait for each other: on the 2-core machine these configs target, under load, one thread ran
the SR GAN steps about 7x faster than two. The hook sets :func:`torch.set_num_threads` before the
run (the model is already built by then; only speed changes, not results).
"""
from __future__ import annotations

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ['SRNumThreadsHook']


@HOOKS.register_module()
class SRNumThreadsHook(Hook):
    """Args: num_threads: intra-op threads (>= 1)."""
    priority = 'VERY_HIGH'

    def __init__(self, num_threads: int = 1) -> None:
        if num_threads < 1:
            raise ValueError(f'num_threads must be >= 1, got {num_threads}')
        self.num_threads = num_threads

    def before_run(self, runner) -> None:
        torch.set_num_threads(self.num_threads)
