"""Hierarchical, parallel and multi-scale (HPM) block of "Hierarchical binary CNNs for
landmark localization with limited resources" (Bulat & Tzimiropoulos, TPAMI 2018).

Three 3x3 convs in a chain, of decreasing width (by default C/2, C/4, C/4); each conv's output
feeds the next (hierarchical: receptive fields 3, 5, 7 = multi-scale) and all three outputs
are concatenated (parallel) to ``C`` channels, then added to the skip. Every conv is a
``BN -> act -> conv`` unit, the paper's binary-friendly order.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from torch import Tensor, nn

from .layers import BLOCK_ACT, PreActConv, Shortcut, skip_activation
from .registry import POSE_BLOCKS


def split_widths(out_channels: int, ratios: Sequence[float]) -> list:
    """Widths of the HPM branches: ``int(C * r)`` for all but the last, the rest last.

    Raises:
        ValueError: if the ratios do not sum to 1 or a branch would be empty.
    """
    if len(ratios) < 1 or abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f'HPM width ratios must sum to 1, got {list(ratios)}')
    widths = [int(out_channels * r) for r in ratios[:-1]]
    widths.append(out_channels - sum(widths))
    if min(widths) <= 0:
        raise ValueError(f'HPM widths {widths} for out_channels={out_channels} and ratios '
                         f'{list(ratios)}: every branch needs at least one channel')
    return widths


@POSE_BLOCKS.register_module()
class HPMBlock(nn.Module):
    """HPM block.

    Args:
        in_channels: input channels.
        out_channels: output channels ``C`` (the concatenation of the branches).
        ratios: branch widths as fractions of ``C`` (paper: ``(1/2, 1/4, 1/4)``).
        conv_cfg: conv config of the branch convs (binary: ``dict(type='BinaryConv2d')``).
        norm_cfg: norm before each conv.
        act_cfg: activation between norm and conv (``None`` for binary convs, which
            quantise their input themselves).
        post_act_cfg: activation after each conv (e.g. PReLU).
        skip: ``'auto' | 'identity' | 'conv' | 'none'``, the paper's skip options
            (identity when shapes match, 1x1 projection otherwise, or no skip).
        gated: soft-gated identity skip (FG 2020 paper).
        gate_init: initial gate value.
        skip_conv_cfg: conv config of the projection skip (default real).
        bias: conv bias.
        skip_act_cfg: activation before the projection skip's conv (see
            :func:`~plugins.pose.layers.skip_activation`; ``None`` with a binary
            ``skip_conv_cfg``).

    Shape:
        ``(N, in_channels, H, W) -> (N, out_channels, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 ratios: Sequence[float] = (0.5, 0.25, 0.25),
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 post_act_cfg: Optional[dict] = None, skip: str = 'auto',
                 gated: bool = False, gate_init: float = 1.0,
                 skip_conv_cfg: Optional[dict] = None, bias: bool = False,
                 skip_act_cfg: Union[str, dict, None] = BLOCK_ACT) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.widths = split_widths(out_channels, ratios)
        kw = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg,
                  post_act_cfg=post_act_cfg, bias=bias)
        chans = [in_channels] + self.widths
        self.branches = nn.ModuleList(
            PreActConv(chans[i], chans[i + 1], 3, **kw) for i in range(len(self.widths)))
        self.shortcut = Shortcut(in_channels, out_channels, skip, gated, gate_init,
                                 skip_conv_cfg, norm_cfg,
                                 skip_activation(act_cfg, skip_act_cfg))

    def forward(self, x: Tensor) -> Tensor:
        outs, h = [], x
        for branch in self.branches:
            h = branch(h)
            outs.append(h)
        out = torch.cat(outs, dim=1)
        s = self.shortcut(x)
        return out if s is None else out + s
