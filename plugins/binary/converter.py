"""``binarize(model, cfg)``: replace the convolutions (and optionally linear layers) of an
existing model by binary layers, like the prepare step of the bnn toolkit
(1adrianb/binary-networks-pytorch) and the papers' protocol of keeping the first and last
layers real.

Example::

    binarize(model, dict(
        conv=dict(type='BinaryConv2d', scale='learned', scale_shape='channel',
                  post_act=dict(type='ChannelPReLU')),
        linear=None,                       # or dict(type='BinaryLinear', ...)
        include=['backbone.*'],            # fnmatch globs on module names (default: all)
        exclude=['*.downsample.*'],
        keep_first=True, keep_last=True))

"First" and "last" are the first and the last ``nn.Conv2d``/``nn.Linear`` of the model,
whether or not linear layers are converted: in registration order (``model.named_modules()``)
by default, or in execution order when ``input_shape`` is given (one dry forward on zeros;
needed for models whose output layer is not registered last, e.g. ``StackedHourglass``,
whose per-stack ``heatmaps`` are registered before the ``merge_*`` convs).
Each replaced layer takes the original weight (decomposed into the latent factors if
``latent`` is set) and bias. Every include/exclude pattern must match at least one candidate
layer, else a ``ValueError`` names it.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Dict, List, Optional, Sequence

from mmengine.registry import MODELS
from torch import nn

from .binary_conv import BinaryConv2d, BinaryLinear, _BinaryMixin

CFG_KEYS = ('conv', 'linear', 'include', 'exclude', 'keep_first', 'keep_last', 'input_shape')


def _candidates(model: nn.Module) -> List[str]:
    return [
        name for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and not isinstance(m, _BinaryMixin) and name
    ]


def execution_order(model: nn.Module, names: List[str], input_shape: Sequence[int]) -> List[str]:
    """The ``names`` that run in a forward of zeros of ``input_shape``, by first call."""
    import torch
    from mmengine.model import BaseModel
    modules = dict(model.named_modules())
    first: Dict[str, int] = {}
    def hook(name: str):
        def record(module, inputs, output) -> None:  # must return None (keeps the output)
            first.setdefault(name, len(first))
        return record

    handles = [modules[n].register_forward_hook(hook(n)) for n in names]
    was_training = model.training
    model.eval()
    try:
        p = next(model.parameters(), None)
        x = torch.zeros(tuple(input_shape), device=None if p is None else p.device)
        with torch.no_grad():
            model(x, None, mode='tensor') if isinstance(model, BaseModel) else model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return sorted(first, key=first.__getitem__)


def _match(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(name, p) for p in patterns)


def _check_patterns(patterns: Sequence[str], names: List[str], what: str) -> None:
    for p in patterns:
        if not any(fnmatchcase(n, p) for n in names):
            shown = ', '.join(names[:8]) + (' ...' if len(names) > 8 else '')
            raise ValueError(f'binarize: {what} pattern {p!r} matches no conv/linear layer; '
                             f'layers are: {shown}')


def select_layers(model: nn.Module, cfg: dict) -> List[str]:
    """Names of the layers ``binarize`` would replace (see the module docstring)."""
    unknown = set(cfg) - set(CFG_KEYS)
    if unknown:
        raise KeyError(f'binarize: unknown cfg keys {sorted(unknown)}; allowed: {list(CFG_KEYS)}')
    names = _candidates(model)
    if not names:
        return []
    include = list(cfg.get('include') or [])
    exclude = list(cfg.get('exclude') or [])
    _check_patterns(include, names, 'include')
    _check_patterns(exclude, names, 'exclude')
    keep = set()
    ordered = names
    if cfg.get('input_shape') is not None:
        ordered = execution_order(model, names, cfg['input_shape']) or names
    if cfg.get('keep_first', True):
        keep.add(ordered[0])
    if cfg.get('keep_last', True):
        keep.add(ordered[-1])
    modules = dict(model.named_modules())
    convert_linear = cfg.get('linear') is not None
    chosen = []
    for n in names:
        if n in keep or (include and not _match(n, include)) or _match(n, exclude):
            continue
        if isinstance(modules[n], nn.Linear) and not convert_linear:
            continue
        if isinstance(modules[n], nn.Conv2d) and cfg.get('conv', {}) is None:
            continue
        chosen.append(n)
    return chosen


def _build(layer: nn.Module, cfg: dict) -> nn.Module:
    cfg = dict(cfg)
    typ = cfg.pop('type', 'BinaryLinear' if isinstance(layer, nn.Linear) else 'BinaryConv2d')
    cls = MODELS.get(typ)
    if cls is None:
        raise KeyError(f'binarize: unknown layer type {typ!r}; allowed: BinaryConv2d, '
                       f'BinaryLinear or another registered binary layer')
    if isinstance(layer, nn.Linear):
        return cls.from_linear(layer, **cfg)
    return cls.from_conv(layer, **cfg)


def binarize(model: nn.Module, cfg: Optional[dict] = None) -> nn.Module:
    """Replace the selected convolutions/linear layers of ``model`` in place.

    Args:
        model: any ``nn.Module`` (MMPose estimator, timm model ...).
        cfg: ``conv`` (options of the binary conv, default ``dict(type='BinaryConv2d')``;
            ``None`` leaves convolutions real), ``linear`` (``None`` default, or options of
            ``BinaryLinear``), ``include``/``exclude`` (fnmatch globs on module names),
            ``keep_first``/``keep_last`` (default True), ``input_shape`` (find first/last by
            execution order instead of registration order).

    Returns:
        The same model; ``model.binarized_layers`` lists the replaced names.
    """
    cfg = dict(cfg or {})
    cfg.setdefault('conv', dict(type='BinaryConv2d'))
    chosen = select_layers(model, cfg)
    modules: Dict[str, nn.Module] = dict(model.named_modules())
    for name in chosen:
        layer = modules[name]
        sub = cfg['linear'] if isinstance(layer, nn.Linear) else cfg['conv']
        parent_name, _, child = name.rpartition('.')
        parent = modules[parent_name] if parent_name else model
        setattr(parent, child, _build(layer, sub))
    model.binarized_layers = chosen
    return model


def binary_layers(model: nn.Module) -> Dict[str, nn.Module]:
    """The binary layers of a model by name (registration order)."""
    return {n: m for n, m in model.named_modules() if isinstance(m, _BinaryMixin)}


__all__ = ['binarize', 'select_layers', 'binary_layers', 'BinaryConv2d', 'BinaryLinear']
