"""Network stacking ("Improved training of binary networks for human pose estimation and image
recognition", Bulat et al., 2019): train stack k of a stacked network (e.g. a stacked hourglass
with stacks ``backbone.stacks.0``, ``backbone.stacks.1`` ...) with the earlier stacks frozen or
not, moving to the next stack at milestones.

Config::

    custom_hooks = [dict(type='StackFreezeHook',
                         stacks=['backbone.stacks.0', 'backbone.stacks.1'],
                         milestones=[0, 40], by='epoch', freeze_earlier=True)]

A stack may span several modules: give a list of patterns per stack, or ``templates`` with a
``{k}`` placeholder and ``num_stacks`` (for ``StackedHourglass`` of ``plugins.pose``)::

    dict(type='StackFreezeHook', num_stacks=2, milestones=[0, 40],
         templates=['backbone.hourglasses.{k}', 'backbone.features.{k}',
                    'backbone.heatmaps.{k}', 'backbone.merge_*.{k}'])

At ``t`` (epoch or iteration) the stage ``k`` is the last milestone ``<= t``; stack ``k`` trains,
earlier stacks train only if ``freeze_earlier=False``, later stacks are frozen if
``freeze_later=True`` (the default). Frozen stacks get ``requires_grad=False`` and, with
``freeze_norm=True``, their normalisation layers are kept in eval mode. A stack is matched by
name prefix (``backbone.stacks.0`` matches ``backbone.stacks.0.*``) or fnmatch glob.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import List, Optional, Sequence, Union

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def _in_stack(name: str, pattern: str) -> bool:
    return (name == pattern or name.startswith(pattern + '.') or fnmatchcase(name, pattern)
            or fnmatchcase(name, pattern + '.*'))


@torch.no_grad()
def copy_stack(model: nn.Module, src: str, dst: str) -> int:
    """Initialise stack ``dst`` from stack ``src`` (same structure); returns tensors copied."""
    state = model.state_dict()
    n = 0
    for k, v in state.items():
        if k.startswith(src + '.'):
            target = dst + k[len(src):]
            if target not in state:
                raise KeyError(f'copy_stack: {target!r} (from {k!r}) not in the model')
            state[target].copy_(v)
            n += 1
    if n == 0:
        raise ValueError(f'copy_stack: no tensor under {src!r}')
    return n


@HOOKS.register_module()
class StackFreezeHook(Hook):
    """Train stacks one at a time (see the module docstring).

    Args:
        stacks: per stack, in order, a name prefix/glob or a list of them.
        templates: alternative to ``stacks``: patterns with ``{k}``, for ``num_stacks`` stacks.
        num_stacks: number of stacks for ``templates``.
        milestones: start time of each stack's stage (same length as ``stacks``).
        by: ``'epoch'`` or ``'iter'``.
        freeze_earlier: freeze the stacks before the current one.
        freeze_later: freeze the stacks after the current one.
        freeze_norm: keep BatchNorm layers of frozen stacks in eval mode.
    """

    def __init__(self, stacks: Optional[Sequence[Union[str, Sequence[str]]]] = None,
                 milestones: Optional[Sequence[int]] = None, by: str = 'epoch',
                 freeze_earlier: bool = True, freeze_later: bool = True,
                 freeze_norm: bool = True, templates: Optional[Sequence[str]] = None,
                 num_stacks: Optional[int] = None) -> None:
        if templates is not None:
            if stacks is not None or not num_stacks:
                raise ValueError('StackFreezeHook: give either stacks, or templates with '
                                 'num_stacks')
            stacks = [[t.format(k=k) for t in templates] for k in range(num_stacks)]
        if not stacks:
            raise ValueError('StackFreezeHook: stacks is empty')
        self.stacks = [(s, ) if isinstance(s, str) else tuple(s) for s in stacks]
        self.milestones = list(milestones) if milestones is not None else list(
            range(len(self.stacks)))
        if len(self.milestones) != len(self.stacks) or not self.stacks:
            raise ValueError(f'StackFreezeHook: need one milestone per stack, got stacks='
                             f'{self.stacks} milestones={self.milestones}')
        if by not in ('epoch', 'iter'):
            raise ValueError(f"StackFreezeHook: unknown by {by!r}; allowed: ['epoch', 'iter']")
        self.by = by
        self.freeze_earlier, self.freeze_later = freeze_earlier, freeze_later
        self.freeze_norm = freeze_norm
        self._stage: Optional[int] = None

    def stage(self, t: int) -> int:
        """Index of the current stack at time ``t``."""
        k = 0
        for i, m in enumerate(self.milestones):
            if t >= m:
                k = i
        return k

    def frozen(self, k: int) -> List[int]:
        """Indices of the stacks frozen at stage ``k``."""
        return [i for i in range(len(self.stacks))
                if (i < k and self.freeze_earlier) or (i > k and self.freeze_later)]

    def apply(self, model: nn.Module, t: int) -> int:
        """Set ``requires_grad`` (and norm modes) for time ``t``; returns the stage."""
        if is_model_wrapper(model):
            model = model.module
        k = self.stage(t)
        frozen = [pat for i in self.frozen(k) for pat in self.stacks[i]]
        if k != self._stage:
            patterns = [pat for stack in self.stacks for pat in stack]
            seen = {p: False for p in patterns}
            for name, p in model.named_parameters():
                hit = [s for s in patterns if _in_stack(name, s)]
                for s in hit:
                    seen[s] = True
                if hit:
                    p.requires_grad_(not any(s in frozen for s in hit))
            empty = [s for s, v in seen.items() if not v]
            if empty:
                raise ValueError(f'StackFreezeHook: stack pattern(s) {empty} match no parameter')
            self._stage = k
        if self.freeze_norm and frozen:
            for name, m in model.named_modules():
                if isinstance(m, (_BatchNorm, nn.GroupNorm)) and any(
                        _in_stack(name, s) for s in frozen):
                    m.eval()
        return k

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self.apply(runner.model, runner.iter if self.by == 'iter' else runner.epoch)
