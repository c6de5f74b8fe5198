"""Registries of the hourglass family's building parts.

``POSE_BLOCKS`` holds residual blocks (``PreActBottleneck``, ``HPMBlock``) and
``HOURGLASS_MODULES`` holds the per-stack encoder/decoder modules (``HourglassModule``,
``HybridHourglassModule``). Backbones pick them from a config, e.g.
``block=dict(type='HPMBlock', conv_cfg=dict(type='BinaryConv2d', scale='learned'))``.
Unknown names raise a ``KeyError`` that names the value and the registered ones.
"""
from __future__ import annotations

import copy
from typing import Optional

from mmengine.registry import Registry
from torch import nn

POSE_BLOCKS = Registry('pose block')
HOURGLASS_MODULES = Registry('hourglass module')


def _build(registry: Registry, cfg: dict, what: str, **kwargs) -> nn.Module:
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'{what} config must be a dict with a "type" key, got {cfg!r}')
    cfg = copy.deepcopy(dict(cfg))
    name = cfg.pop('type')
    cls = name if isinstance(name, type) else registry.get(name)
    if cls is None:
        allowed = sorted(registry.module_dict)
        raise KeyError(f'unknown {what} type {name!r}; allowed: {allowed}')
    cfg.update(kwargs)
    return cls(**cfg)


def build_block(cfg: dict, in_channels: int, out_channels: int) -> nn.Module:
    """Build a residual block mapping ``in_channels`` to ``out_channels`` at the same size.

    Args:
        cfg: ``dict(type=<name in POSE_BLOCKS>, **options)``.
        in_channels: channels of the input ``(N, in_channels, H, W)``.
        out_channels: channels of the output ``(N, out_channels, H, W)``.

    Returns:
        The block module.

    Raises:
        KeyError: if ``cfg['type']`` is not a registered block.
    """
    return _build(POSE_BLOCKS, cfg, 'block', in_channels=in_channels,
                  out_channels=out_channels)


def build_hourglass_module(cfg: Optional[dict], **kwargs) -> nn.Module:
    """Build one stack's encoder/decoder from ``HOURGLASS_MODULES`` (default Newell's)."""
    cfg = dict(type='HourglassModule') if cfg is None else cfg
    return _build(HOURGLASS_MODULES, cfg, 'hourglass module', **kwargs)
