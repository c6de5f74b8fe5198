"""Progressive binarisation ("Improved training of binary networks for human pose estimation and
image recognition", Bulat et al., 2019): a training hook that moves a network from real to
binary over a schedule.

Each binary layer has ``binary_mix`` in [0, 1] (0: the real layer, 1: the binary one; see
:class:`~plugins.binary.BinaryConv2d`). With ``t`` the iteration (or epoch) and
``f = clip((t - begin) / (end - begin), 0, 1)``:

* ``mode='layer'``: the first ``round(f * N)`` layers of the order are binary (mix 1), the
  others real (mix 0). ``order='reverse'`` binarises from the last layer to the first (the
  reverse-order recipe), ``'forward'`` from the first.
* ``mode='mix'``: every layer has ``binary_mix = f`` (a continuous interpolation).

Config::

    custom_hooks = [dict(type='ProgressiveBinarizationHook', begin=0, end=2000, by='iter',
                         mode='layer', order='reverse')]
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import List, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import nn

from .binary_conv import _BinaryMixin

MODES = ('layer', 'mix')
ORDERS = ('reverse', 'forward')
UNITS = ('iter', 'epoch')


def binary_fraction(model: nn.Module) -> float:
    """Fraction of binary layers that are fully binary (``binary_mix == 1``)."""
    layers = [m for m in model.modules() if isinstance(m, _BinaryMixin)]
    return sum(m.binary_mix >= 1.0 for m in layers) / max(1, len(layers))


def schedule_fraction(t: float, begin: float, end: float) -> float:
    """``clip((t - begin) / (end - begin), 0, 1)`` (a step at ``begin`` if ``end <= begin``)."""
    if end <= begin:
        return 1.0 if t >= begin else 0.0
    return min(1.0, max(0.0, (t - begin) / (end - begin)))


@HOOKS.register_module()
class ProgressiveBinarizationHook(Hook):
    """Move binary layers from real to binary over a schedule.

    Args:
        begin, end: the schedule's start and end, in ``by`` units.
        by: ``'iter'`` or ``'epoch'``.
        mode: ``'layer'`` or ``'mix'`` (see the module docstring).
        order: ``'reverse'`` (last layer first) or ``'forward'``.
        patterns: fnmatch globs selecting the layers to schedule (default all binary layers);
            the others stay as they are.
    """

    priority = 'NORMAL'

    def __init__(self, begin: int = 0, end: int = 1000, by: str = 'iter', mode: str = 'layer',
                 order: str = 'reverse', patterns: Optional[Sequence[str]] = None) -> None:
        for value, allowed, what in ((mode, MODES, 'mode'), (order, ORDERS, 'order'),
                                     (by, UNITS, 'by')):
            if value not in allowed:
                raise ValueError(f'ProgressiveBinarizationHook: unknown {what} {value!r}; '
                                 f'allowed: {list(allowed)}')
        self.begin, self.end, self.by = begin, end, by
        self.mode, self.order = mode, order
        self.patterns = list(patterns) if patterns else None

    def layers(self, model: nn.Module) -> List[nn.Module]:
        """The scheduled layers in binarisation order."""
        if is_model_wrapper(model):
            model = model.module
        named = [(n, m) for n, m in model.named_modules() if isinstance(m, _BinaryMixin)]
        if self.patterns:
            for p in self.patterns:
                if not any(fnmatchcase(n, p) for n, _ in named):
                    raise ValueError(f'ProgressiveBinarizationHook: pattern {p!r} matches no '
                                     f'binary layer; layers: {[n for n, _ in named][:8]}')
            named = [(n, m) for n, m in named if any(fnmatchcase(n, p) for p in self.patterns)]
        if not named:
            raise ValueError('ProgressiveBinarizationHook: the model has no binary layers '
                             '(build it with conv_cfg=dict(type="BinaryConv2d") or binarize())')
        layers = [m for _, m in named]
        return layers[::-1] if self.order == 'reverse' else layers

    def apply(self, model: nn.Module, t: float) -> float:
        """Set ``binary_mix`` of the layers for time ``t``; returns the schedule fraction."""
        f = schedule_fraction(t, self.begin, self.end)
        layers = self.layers(model)
        if self.mode == 'mix':
            for m in layers:
                m.binary_mix = f
        else:
            n = int(round(f * len(layers)))
            for i, m in enumerate(layers):
                m.binary_mix = 1.0 if i < n else 0.0
        return f

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        t = runner.iter if self.by == 'iter' else runner.epoch
        self.apply(runner.model, t)
