"""One optimiser per sub-network: an ``OptimWrapperDict`` keyed by the sub-network's name.

mmengine's :class:`~mmengine.optim.DefaultOptimWrapperConstructor` builds one optimiser for the
whole model, and ``Runner.build_optim_wrapper`` needs a constructor for a dict of several (see
its docstring). This constructor builds, for every key of the config, the optimiser wrapper of
the attribute of the model with that name, with the constructor named in that entry
(``DefaultOptimWrapperConstructor`` unless given)::

    optim_wrapper = dict(
        constructor='SubnetOptimWrapperConstructor',
        generator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.0, 0.9))),
        discriminator=dict(optimizer=dict(type='Adam', lr=1e-4, betas=(0.0, 0.9))))

``paramwise_cfg`` and ``constructor`` inside an entry apply to that sub-network only.
"""
from __future__ import annotations

import copy

from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from torch import nn

__all__ = ['SubnetOptimWrapperConstructor']


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SubnetOptimWrapperConstructor:
    """Build an :class:`OptimWrapperDict` with one optim wrapper per named sub-network.

    Args:
        optim_wrapper_cfg: ``{submodule_name: optim_wrapper_cfg}``; each value is an ordinary
            single-optimiser config (``type`` defaults to ``'OptimWrapper'``), optionally with
            ``constructor`` and ``paramwise_cfg``.
        paramwise_cfg: unused (must be ``None``); give it per entry instead.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError('SubnetOptimWrapperConstructor: put paramwise_cfg inside the '
                             'entry of each sub-network, not at the top level')
        if not optim_wrapper_cfg:
            raise ValueError('SubnetOptimWrapperConstructor needs at least one entry '
                             '{submodule_name: optim_wrapper_cfg}')
        for name, cfg in optim_wrapper_cfg.items():
            if not isinstance(cfg, dict) or 'optimizer' not in cfg:
                raise ValueError(f'optim_wrapper entry {name!r} must be a dict with an '
                                 f"'optimizer', got {cfg!r}")
        self.optim_wrapper_cfg = copy.deepcopy(dict(optim_wrapper_cfg))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        if is_model_wrapper(model):
            model = model.module
        wrappers = {}
        for name, cfg in self.optim_wrapper_cfg.items():
            submodule = getattr(model, name, None)
            if not isinstance(submodule, nn.Module):
                children = [n for n, _ in model.named_children()]
                raise KeyError(f'optim_wrapper entry {name!r} names no sub-network of '
                               f'{type(model).__name__}; its children are {children}')
            cfg = dict(copy.deepcopy(cfg))
            constructor_type = cfg.pop('constructor', 'DefaultOptimWrapperConstructor')
            paramwise_cfg = cfg.pop('paramwise_cfg', None)
            cfg.setdefault('type', 'OptimWrapper')
            constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
                dict(type=constructor_type, optim_wrapper_cfg=cfg, paramwise_cfg=paramwise_cfg))
            wrappers[name] = constructor(submodule)
        return OptimWrapperDict(**wrappers)
