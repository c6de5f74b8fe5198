"""Smooth progressive quantisation ("Improved training of binary networks for human pose
estimation and image recognition", Bulat, Tzimiropoulos, Kossaifi & Pantic, 2019): every
:class:`~plugins.binary.SmoothSign` quantiser computes ``f(k x)``, a smooth approximation of
``sign(x)``, and this hook raises the steepness ``k`` during training, so that the network
moves from real to binary without a fixed choice of which weights binarise when; after
``end`` the quantisers switch to the hard sign (with the clipped straight-through estimator).

With ``f = clip((t - begin) / (end - begin), 0, 1)``:

* ``schedule='exp'``: ``k = k_start * (k_end / k_start) ** f`` (geometric);
* ``schedule='linear'``: ``k = k_start + f * (k_end - k_start)``.

``begin``/``end`` are iterations/epochs (``int``) or fractions of the run (``float``, see
:mod:`plugins.binary.schedule`). The state reached after an iteration is set before the
checkpoint of that iteration is written (``k`` and ``hard`` are buffers of the quantisers), so
a checkpoint resumes, and a finished run evaluates, with the state of its last step.

Config::

    conv_cfg = dict(type='BinaryConv2d',
                    act_quantizer=dict(type='SmoothSign'),
                    weight_quantizer=dict(type='SmoothSign', normalize=True))
    custom_hooks = [dict(type='SmoothSignScheduleHook', begin=0, end=0.6, by='iter',
                         k_start=1.0, k_end=10.0)]
"""
from __future__ import annotations

import math
from typing import List, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn

from .progressive import schedule_fraction
from .quantizers import SmoothSign
from .schedule import Point, check_point, check_unit, current_time, resolve_point

SCHEDULES = ('exp', 'linear')


def smooth_quantizers(model: nn.Module) -> List[SmoothSign]:
    """Every :class:`SmoothSign` of ``model`` (unwrapped)."""
    if is_model_wrapper(model):
        model = model.module
    return [m for m in model.modules() if isinstance(m, SmoothSign)]


@HOOKS.register_module()
class SmoothSignScheduleHook(Hook):
    """Raise the steepness of the smooth sign quantisers, then switch them to the hard sign.

    Args:
        begin, end: start and end of the ramp (int: iteration/epoch, float: fraction of the
            run).
        by: ``'iter'`` or ``'epoch'``.
        k_start, k_end: steepness at ``begin`` and at ``end`` (``0 < k_start <= k_end``).
        schedule: ``'exp'`` or ``'linear'``.
        hard_after_end: switch to the hard sign from ``end`` on (else keep ``f(k_end x)``).
    """

    priority = 'NORMAL'

    def __init__(self, begin: Point = 0, end: Point = 0.6, by: str = 'iter',
                 k_start: float = 1.0, k_end: float = 10.0, schedule: str = 'exp',
                 hard_after_end: bool = True) -> None:
        check_unit(by, 'SmoothSignScheduleHook')
        check_point(begin, 'SmoothSignScheduleHook begin')
        check_point(end, 'SmoothSignScheduleHook end')
        if schedule not in SCHEDULES:
            raise ValueError(f'SmoothSignScheduleHook: unknown schedule {schedule!r}; '
                             f'allowed: {list(SCHEDULES)}')
        if not (0 < k_start <= k_end and math.isfinite(k_end)):
            raise ValueError(f'SmoothSignScheduleHook needs 0 < k_start <= k_end < inf, got '
                             f'k_start={k_start!r}, k_end={k_end!r}')
        self.begin, self.end, self.by = begin, end, by
        self.k_start, self.k_end = float(k_start), float(k_end)
        self.schedule, self.hard_after_end = schedule, hard_after_end

    def state(self, t: float, begin: int, end: int) -> Tuple[float, bool]:
        """``(k, hard)`` at time ``t`` for a ramp from ``begin`` to ``end``."""
        f = schedule_fraction(t, begin, end)
        if self.schedule == 'exp':
            k = self.k_start * (self.k_end / self.k_start)**f
        else:
            k = self.k_start + f * (self.k_end - self.k_start)
        return k, bool(self.hard_after_end and t >= end)

    def apply(self, model: nn.Module, t: float, begin: int, end: int) -> Tuple[float, bool]:
        """Set every :class:`SmoothSign` of ``model`` to the state at ``t``; returns it."""
        quantizers = smooth_quantizers(model)
        if not quantizers:
            raise ValueError('SmoothSignScheduleHook: the model has no SmoothSign quantiser; '
                             "use act_quantizer/weight_quantizer=dict(type='SmoothSign') in "
                             'the binary conv config')
        k, hard = self.state(t, begin, end)
        for q in quantizers:
            q.set_state(k=k, hard=hard)
        return k, hard

    def _apply_at(self, runner, t: int) -> None:
        self.apply(runner.model, t, resolve_point(self.begin, runner, self.by),
                   resolve_point(self.end, runner, self.by))

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._apply_at(runner, current_time(runner, self.by))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.by == 'iter':  # the state of the next iteration, before its checkpoint
            self._apply_at(runner, runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if self.by == 'epoch':
            self._apply_at(runner, runner.epoch + 1)
