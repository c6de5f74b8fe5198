"""Check that data-parallel replicas hold the same weights."""
from __future__ import annotations

import json
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import all_gather, get_rank, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


def parameter_fingerprint(model: torch.nn.Module) -> torch.Tensor:
    """A float64 vector ``[sum, sum of squares, weighted sum]`` over all parameters."""
    total = torch.zeros(3, dtype=torch.float64)
    for i, p in enumerate(model.parameters()):
        v = p.detach().double().flatten()
        total += torch.stack([v.sum(), (v * v).sum(), v.sum() * (i + 1)])
    return total


@HOOKS.register_module()
class DDPConsistencyHook(Hook):
    """After training (and every ``interval`` iterations), compare the replicas' weights.

    Every rank computes :func:`parameter_fingerprint`; the fingerprints are all-gathered and
    must agree to ``rtol``. The result is logged and, on rank 0, written to
    ``<work_dir>/ddp_consistency.json``. Divergent replicas raise ``RuntimeError``.

    Args:
        interval: also check every ``interval`` training iterations (0: only after training).
        rtol: relative tolerance of the comparison.
    """

    priority = 'VERY_LOW'

    def __init__(self, interval: int = 0, rtol: float = 1e-6) -> None:
        self.interval = interval
        self.rtol = rtol

    def _check(self, runner) -> Optional[dict]:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        fingerprint = parameter_fingerprint(model)
        gathered = all_gather(fingerprint)
        agree = all(torch.allclose(g, gathered[0], rtol=self.rtol) for g in gathered)
        result = dict(iter=runner.iter, world_size=get_world_size(), agree=agree,
                      fingerprints=[g.tolist() for g in gathered])
        runner.logger.info(f'DDPConsistencyHook: {get_world_size()} ranks '
                           f'{"agree" if agree else "DISAGREE"} at iter {runner.iter}')
        if is_main_process():
            with open(osp.join(runner.work_dir, 'ddp_consistency.json'), 'w') as f:
                json.dump(result, f)
        if not agree:
            raise RuntimeError(f'rank {get_rank()}: data-parallel replicas diverged: {result}')
        return result

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self._check(runner)

    def after_train(self, runner) -> None:
        self._check(runner)
