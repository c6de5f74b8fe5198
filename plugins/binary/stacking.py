"""Network stacking ("Improved training of binary networks for human pose estimation and image
recognition", Bulat et al., 2019): train the first stack of a stacked network alone, then add
the next stack, initialised from the trained one, while the earlier stacks are frozen (or
not), moving to the next stack at milestones.

A stack may span several modules: give a list of patterns per stack, or ``templates`` with a
``{k}`` placeholder (the stack index) and ``num_stacks``. ``{prev}`` stands for ``k - 1``: the
layers that feed stack ``k`` from stack ``k - 1`` (the ``merge_*`` convs of a stacked
hourglass) belong to stack ``k``, and such templates are skipped for stack 0. ``stem`` names
modules trained with the first stack (and frozen with it). For ``StackedHourglass`` of
``plugins.pose``::

    dict(type='StackFreezeHook', num_stacks=2, milestones=[0, 0.5], by='iter',
         templates=['backbone.hourglasses.{k}', 'backbone.features.{k}',
                    'backbone.heatmaps.{k}', 'backbone.merge_*.{prev}'],
         stem=['backbone.stem'], init_from_previous=True, mask_later_losses=True)

At ``t`` the stage ``k`` is the last milestone ``<= t`` (milestones are iterations/epochs, or
fractions of the run as floats). Stack ``k`` trains; earlier stacks train only if
``freeze_earlier=False``; later stacks are frozen if ``freeze_later=True`` (the default).
Frozen stacks get ``requires_grad=False`` and, with ``freeze_norm=True``, eval-mode norms.
With ``init_from_previous`` the first entry into stage ``k > 0`` copies stack ``k - 1``'s
weights into stack ``k`` (the plain ``{k}`` templates; the copy is recorded in the
checkpoint's meta, so a resumed run does not copy again). With ``mask_later_losses`` the loss
weights of the stacks after ``k`` (``model.head.stack_weights``, e.g.
:class:`~plugins.pose.MultiStackHeatmapHead`) are 0 during stage ``k``: stage 0 trains a
one-stack network. A stack is matched by name prefix (``backbone.stacks.0`` matches
``backbone.stacks.0.*``) or fnmatch glob.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import List, Optional, Sequence, Set, Union

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .schedule import Point, check_point, check_unit, current_time, resolve_point

META_KEY = 'stack_freeze_copied'
_GLOB = set('*?[')


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


def _expand_templates(templates: Sequence[str], num_stacks: int) -> List[List[str]]:
    stacks = []
    for k in range(num_stacks):
        pats = [t.format(k=k, prev=k - 1) for t in templates if not ('{prev}' in t and k == 0)]
        stacks.append(pats)
    return stacks


@HOOKS.register_module()
class StackFreezeHook(Hook):
    """Train stacks one at a time (see the module docstring).

    Args:
        stacks: per stack, in order, a name prefix/glob or a list of them.
        templates: alternative to ``stacks``: patterns with ``{k}`` (and ``{prev}``), for
            ``num_stacks`` stacks.
        num_stacks: number of stacks for ``templates``.
        milestones: start of each stack's stage (int: iteration/epoch, float: fraction of the
            run); default: the run split evenly, ``0, 1/n, 2/n, ...``.
        by: ``'epoch'`` or ``'iter'``.
        freeze_earlier: freeze the stacks before the current one.
        freeze_later: freeze the stacks after the current one.
        freeze_norm: keep norm layers of frozen stacks in eval mode.
        stem: patterns trained and frozen with the first stack.
        init_from_previous: copy stack ``k - 1`` into stack ``k`` when stage ``k`` starts.
        mask_later_losses: zero the loss weights of the stacks after the current one
            (``model.head.stack_weights``).
    """

    def __init__(self, stacks: Optional[Sequence[Union[str, Sequence[str]]]] = None,
                 milestones: Optional[Sequence[Point]] = None, by: str = 'epoch',
                 freeze_earlier: bool = True, freeze_later: bool = True,
                 freeze_norm: bool = True, templates: Optional[Sequence[str]] = None,
                 num_stacks: Optional[int] = None, stem: Sequence[str] = (),
                 init_from_previous: bool = False, mask_later_losses: bool = False) -> None:
        self.templates = list(templates) if templates is not None else None
        if templates is not None:
            if stacks is not None or not num_stacks:
                raise ValueError('StackFreezeHook: give either stacks, or templates with '
                                 'num_stacks')
            stacks = _expand_templates(templates, num_stacks)
        if not stacks:
            raise ValueError('StackFreezeHook: stacks is empty')
        self.stacks = [[s] if isinstance(s, str) else list(s) for s in stacks]
        self.stacks[0] = list(stem) + self.stacks[0]
        n = len(self.stacks)
        self.milestones = list(milestones) if milestones is not None else [0] + [
            i / n for i in range(1, n)]
        if len(self.milestones) != len(self.stacks):
            raise ValueError(f'StackFreezeHook: need one milestone per stack, got stacks='
                             f'{self.stacks} milestones={self.milestones}')
        for m in self.milestones:
            check_point(m, 'StackFreezeHook milestone')
        check_unit(by, 'StackFreezeHook')
        self.by = by
        self.freeze_earlier, self.freeze_later = freeze_earlier, freeze_later
        self.freeze_norm = freeze_norm
        self.init_from_previous, self.mask_later_losses = init_from_previous, mask_later_losses
        self.copied: Set[int] = set()
        self._stage: Optional[int] = None
        self._stack_weights: Optional[List[float]] = None

    def stage(self, t: int, milestones: Optional[Sequence[int]] = None) -> int:
        """Index of the current stack at time ``t``."""
        k = 0
        for i, m in enumerate(self.milestones if milestones is None else milestones):
            if t >= m:
                k = i
        return k

    def frozen(self, k: int) -> List[int]:
        """Indices of the stacks frozen at stage ``k``."""
        return [i for i in range(len(self.stacks))
                if (i < k and self.freeze_earlier) or (i > k and self.freeze_later)]

    def copy_pairs(self, k: int) -> List[tuple]:
        """``(src, dst)`` module prefixes copied when stage ``k`` starts."""
        if self.templates is not None:
            plain = [t for t in self.templates
                     if '{k}' in t and '{prev}' not in t and not _GLOB & set(t)]
            return [(t.format(k=k - 1), t.format(k=k)) for t in plain]
        src, dst = self.stacks[k - 1][-len(self.stacks[k]):], self.stacks[k]
        return [(a, b) for a, b in zip(src, dst) if not (_GLOB & set(a + b))]

    def _mask_losses(self, model: nn.Module, k: int) -> None:
        head = getattr(model, 'head', None)
        weights = getattr(head, 'stack_weights', None)
        if weights is None or len(weights) != len(self.stacks):
            raise ValueError(f'StackFreezeHook(mask_later_losses=True) needs model.head.'
                             f'stack_weights with one entry per stack ({len(self.stacks)}), '
                             f'got {weights!r}')
        if self._stack_weights is None:
            self._stack_weights = list(weights)
        head.stack_weights = [w if i <= k else 0.0 for i, w in enumerate(self._stack_weights)]

    def apply(self, model: nn.Module, t: int,
              milestones: Optional[Sequence[int]] = None) -> int:
        """Set ``requires_grad`` (norm modes, copies, loss weights) for time ``t``; returns
        the stage."""
        if is_model_wrapper(model):
            model = model.module
        k = self.stage(t, milestones)
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
            if self.init_from_previous:
                for j in range(1, k + 1):
                    if j not in self.copied:
                        for src, dst in self.copy_pairs(j):
                            copy_stack(model, src, dst)
                        self.copied.add(j)
            if self.mask_later_losses:
                self._mask_losses(model, k)
            self._stage = k
        if self.freeze_norm and frozen:
            for name, m in model.named_modules():
                if isinstance(m, (_BatchNorm, nn.GroupNorm)) and any(
                        _in_stack(name, s) for s in frozen):
                    m.eval()
        return k

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        milestones = [resolve_point(m, runner, self.by) for m in self.milestones]
        self.apply(runner.model, current_time(runner, self.by), milestones)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[META_KEY] = sorted(self.copied)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.copied = set(checkpoint.get('meta', {}).get(META_KEY, []))
