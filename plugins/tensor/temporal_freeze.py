"""Train the temporal factors of a transduced network first, with the spatial ones fixed.

"Factorized Higher-Order CNNs with an Application to Spatio-Temporal Emotion Estimation"
(Kossaifi et al., CVPR 2020): after transduction (:func:`plugins.tensor.transduce`) "the
pretrained spatial factors are first kept fixed, before jointly fine-tuning all the parameters
once the temporal factors have been trained". :class:`FreezeSpatialFactorsHook` does this in an
mmengine Runner: for the first ``iters`` iterations every parameter of a transduced module
except its temporal factors has ``requires_grad=False`` (optimisers skip parameters without a
gradient), then all are released.
"""
from __future__ import annotations

import fnmatch
from typing import List, Sequence

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from .transduction import TEMPORAL_ATTR

__all__ = ['spatial_parameter_names', 'freeze_spatial_factors', 'FreezeSpatialFactorsHook']


def spatial_parameter_names(model: nn.Module, extra: Sequence[str] = ()) -> List[str]:
    """Qualified names of the parameters to keep fixed while the temporal factors train.

    Args:
        model: a network returned by :func:`plugins.tensor.transduce`.
        extra: ``fnmatch`` patterns of more parameters to fix (e.g. ``['stem.*']``).

    Returns:
        the parameters of every transduced module (CP/Tucker factors and cores, inflated
        dense kernels, their biases) except their temporal factors, plus the ``extra`` matches.

    Raises:
        ValueError: the model has no transduced module, or an ``extra`` pattern matches
            nothing.
    """
    names, found = [], False
    for mname, module in model.named_modules():
        temporal = getattr(module, TEMPORAL_ATTR, None)
        if temporal is None:
            continue
        found = True
        prefix = f'{mname}.' if mname else ''
        names += [prefix + p for p, _ in module.named_parameters() if p not in temporal]
    if not found:
        raise ValueError(f'{type(model).__name__} has no transduced module (no '
                         f'{TEMPORAL_ATTR!r} attribute); run plugins.tensor.transduce first')
    all_names = [n for n, _ in model.named_parameters()]
    for pattern in extra:
        hits = [n for n in all_names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise ValueError(f'extra pattern {pattern!r} matches no parameter; parameters: '
                             f'{all_names[:20]}{" ..." if len(all_names) > 20 else ""}')
        names += [n for n in hits if n not in names]
    return names


def freeze_spatial_factors(model: nn.Module, frozen: bool = True,
                           extra: Sequence[str] = ()) -> List[str]:
    """Set ``requires_grad = not frozen`` on :func:`spatial_parameter_names`; returns them."""
    names = spatial_parameter_names(model, extra)
    params = dict(model.named_parameters())
    for name in names:
        params[name].requires_grad_(not frozen)
    return names


@HOOKS.register_module()
class FreezeSpatialFactorsHook(Hook):
    """Keep the spatial factors of a transduced network fixed for the first ``iters`` iterations.

    Args:
        iters: iterations during which only the temporal factors (and the modules that were
            not transduced: norms, heads, ...) are trained; 0 disables the freeze.
        extra: ``fnmatch`` patterns of more parameters to fix during that phase.

    Config::

        custom_hooks = [dict(type='FreezeSpatialFactorsHook', iters=200)]
    """

    priority = 'HIGH'

    def __init__(self, iters: int, extra: Sequence[str] = ()) -> None:
        if not isinstance(iters, int) or iters < 0:
            raise ValueError(f'iters must be an int >= 0, got {iters!r}')
        self.iters, self.extra = iters, tuple(extra)
        self.frozen: List[str] = []

    def _model(self, runner) -> nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        if runner.iter < self.iters:
            model = self._model(runner)
            # only parameters that were trainable: releasing must not unfreeze others
            trainable = {n for n, p in model.named_parameters() if p.requires_grad}
            names = [n for n in spatial_parameter_names(model, self.extra) if n in trainable]
            params = dict(model.named_parameters())
            for name in names:
                params[name].requires_grad_(False)
            self.frozen = names

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.frozen and runner.iter >= self.iters:
            params = dict(self._model(runner).named_parameters())
            for name in self.frozen:
                params[name].requires_grad_(True)
            self.frozen = []
