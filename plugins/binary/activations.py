"""Activations after binary convolutions ("Improved training of binary networks for human pose
estimation and image recognition", Bulat, Tzimiropoulos, Kossaifi & Pantic, 2019).

Selected in a binary layer by ``post_act=dict(type=...)`` (``None`` for no activation); the
channel count is filled in by the layer. Registered in mmengine's ``MODELS`` so that
``act_cfg`` of mmcv's ``ConvModule`` can use them too (pass ``num_channels`` there).

* ``ChannelPReLU``: PReLU with one slope per channel, ``y = x`` (x > 0), ``a_c x`` (x <= 0).
* ``LearnableSlope``: both slopes learned per channel, ``y = p_c x`` (x > 0), ``n_c x``
  (x <= 0); with ``bias=True`` it learns a shift before and after (RPReLU of ReActNet).
"""
from __future__ import annotations

from typing import Optional

import torch
from mmengine.registry import MODELS
from torch import Tensor, nn

POST_ACTIVATIONS = ('ChannelPReLU', 'LearnableSlope', 'PReLU', 'ReLU', 'Identity', None)


@MODELS.register_module()
class ChannelPReLU(nn.PReLU):
    """Per-channel PReLU. Shape: (N, C, ...) -> same.

    Args:
        num_channels: C.
        init: initial negative slope.
    """

    def __init__(self, num_channels: int, init: float = 0.25) -> None:
        super().__init__(num_parameters=num_channels, init=init)


@MODELS.register_module()
class LearnableSlope(nn.Module):
    """Per-channel learned positive and negative slopes (optionally with learned shifts).

    Args:
        num_channels: C.
        pos_init: initial positive slope.
        neg_init: initial negative slope.
        bias: learn a shift before (``b_in``) and after (``b_out``) the piecewise-linear map.

    Shape: (N, C, ...) -> same.
    """

    def __init__(self, num_channels: int, pos_init: float = 1.0, neg_init: float = 0.25,
                 bias: bool = False) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.full((num_channels, ), float(pos_init)))
        self.neg = nn.Parameter(torch.full((num_channels, ), float(neg_init)))
        if bias:
            self.b_in = nn.Parameter(torch.zeros(num_channels))
            self.b_out = nn.Parameter(torch.zeros(num_channels))
        else:
            self.b_in = self.b_out = None

    def forward(self, x: Tensor) -> Tensor:
        view = (1, -1) + (1, ) * (x.dim() - 2)
        if self.b_in is not None:
            x = x + self.b_in.view(view)
        y = torch.where(x > 0, x * self.pos.view(view), x * self.neg.view(view))
        if self.b_out is not None:
            y = y + self.b_out.view(view)
        return y


def build_post_activation(cfg: Optional[dict], channels: int) -> Optional[nn.Module]:
    """Build the activation after a binary layer; fills the channel count.

    Args:
        cfg: ``None`` or ``dict(type=one of POST_ACTIVATIONS or any mmengine MODELS name)``.
        channels: output channels of the layer.
    """
    if cfg is None:
        return None
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'post_act must be None or dict(type=...), got {cfg!r}')
    cfg = dict(cfg)
    if cfg['type'] in ('ChannelPReLU', 'LearnableSlope'):
        cfg.setdefault('num_channels', channels)
    elif cfg['type'] == 'PReLU':
        cfg.setdefault('num_parameters', channels)
    if MODELS.get(cfg['type']) is None:
        raise KeyError(f'unknown post_act {cfg["type"]!r}; allowed: '
                       f'{[a for a in POST_ACTIVATIONS if a]} or another registered activation')
    return MODELS.build(cfg)
