"""``factorize(model, cfg)``: replace the convolutions of a network by factorised ones.

Like ``binarize()`` (plugins.binary) and the papers, the first and the last convolution stay
dense by default. Each converted convolution is built with ``from_conv``, i.e. its trained
kernel is decomposed (``decompose=False`` gives a random init of the same factorised shape).

Example::

    factorize(model, dict(type='CPConv', rank=0.25, exclude=['head.*']))
"""
from __future__ import annotations

import fnmatch
from typing import Dict, List, Sequence

import torch.nn as nn
from mmengine.registry import MODELS

from ..engine.progress import track
from .factorized_conv import FactorizedConvNd
from .ranks import check_factorization

_TYPES = {'cp': 'CPConv', 'tucker': 'TuckerConv'}
_KEYS = ('type', 'factorization', 'rank', 'implementation', 'include', 'exclude',
         'keep_first_last', 'decompose')


def _layer_class(cfg: dict) -> type:
    if 'type' in cfg:
        cls = MODELS.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
        if not (isinstance(cls, type) and issubclass(cls, FactorizedConvNd)):
            allowed = sorted(n for n, c in MODELS.module_dict.items()
                             if isinstance(c, type) and issubclass(c, FactorizedConvNd))
            raise ValueError(f'factorize: unknown factorised conv type {cfg["type"]!r}; '
                             f'allowed: {allowed}')
        return cls
    return MODELS.get(_TYPES[check_factorization(cfg.get('factorization', 'cp'))])


def _match(patterns: Sequence[str], names: List[str], what: str) -> set:
    matched = set()
    for pattern in patterns:
        hits = {n for n in names if fnmatch.fnmatchcase(n, pattern)}
        if not hits:
            shown = names if len(names) <= 20 else names[:20] + ['...']
            raise ValueError(f'factorize: {what} pattern {pattern!r} matches no convolution; '
                             f'the convolutions are: {shown}')
        matched |= hits
    return matched


def factorize(model: nn.Module, cfg: Dict) -> nn.Module:
    """Replace dense ``nn.Conv{1,2,3}d`` modules of ``model`` (in place) by factorised ones.

    Args:
        model: any ``nn.Module``.
        cfg: ``type`` (``'CPConv'``, ``'TuckerConv'``, ... any registered factorised conv) or
            ``factorization`` (``'cp'``/``'tucker'``); ``rank`` (int or float ratio);
            ``implementation``; ``include`` / ``exclude``: lists of ``fnmatch`` patterns on
            the qualified module names (``include`` defaults to all); ``keep_first_last``
            (default True: the first and last convolution in module order stay dense);
            ``decompose`` (default True). Grouped and transposed convolutions are skipped.
            Progress is shown per layer (:mod:`plugins.engine.progress`).

    Returns:
        ``model``, with ``model.factorized_names`` listing the converted modules.

    Raises:
        ValueError: unknown keys, type or factorisation, or a pattern that matches nothing.
    """
    cfg = dict(cfg)
    unknown = set(cfg) - set(_KEYS)
    if unknown:
        raise ValueError(f'factorize: unknown cfg keys {sorted(unknown)}; allowed: '
                         f'{list(_KEYS)}')
    cls = _layer_class(cfg)
    convs = [(n, m) for n, m in model.named_modules()
             if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    names = [n for n, _ in convs]
    include = cfg.get('include')
    selected = _match(include, names, 'include') if include else set(names)
    selected -= _match(cfg.get('exclude') or (), names, 'exclude')
    if cfg.get('keep_first_last', True) and names:
        selected -= {names[0], names[-1]}
    converted = []
    todo = [(n, c) for n, c in convs if n in selected and c.groups == 1]
    for name, conv in track(todo, desc=f'factorize ({cls.__name__})', unit='layer'):
        new = cls.from_conv(conv, rank=cfg.get('rank', 0.5),
                            implementation=cfg.get('implementation', 'factorized'),
                            decompose=cfg.get('decompose', True))
        parent_name, _, child = name.rpartition('.')
        setattr(model.get_submodule(parent_name) if parent_name else model, child, new)
        converted.append(name)
    model.factorized_names = converted
    return model
