"""Pre-activation bottleneck of "Stacked Hourglass Networks for Human Pose Estimation"
(Newell et al., ECCV 2016), built from ``norm -> act -> conv`` units.

``in -> [BN-ReLU-conv1x1] -> C/2 -> [BN-ReLU-conv3x3] -> C/2 -> [BN-ReLU-conv1x1] -> C``
plus a skip (identity, gated identity or 1x1 projection).
"""
from __future__ import annotations

from typing import Optional, Union

from torch import Tensor, nn

from .layers import BLOCK_ACT, PreActConv, Shortcut, skip_activation
from .registry import POSE_BLOCKS


@POSE_BLOCKS.register_module()
class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck residual block.

    Args:
        in_channels: input channels.
        out_channels: output channels ``C``.
        mid_ratio: the bottleneck width is ``int(C * mid_ratio)`` (Newell: 0.5).
        conv_cfg: conv config of the three convs (``dict(type='BinaryConv2d', ...)`` for a
            binary bottleneck).
        norm_cfg: norm config.
        act_cfg: activation before each conv (``None`` for binary convs that quantise their
            input themselves).
        post_act_cfg: activation after each conv.
        skip: ``'auto' | 'identity' | 'conv' | 'none'`` (see :class:`Shortcut`).
        gated: soft-gated identity skip.
        gate_init: initial gate value.
        skip_conv_cfg: conv config of the projection skip (default real).
        bias: conv bias.
        skip_act_cfg: activation before the projection skip's conv (see
            :func:`~plugins.pose.layers.skip_activation`; ``None`` with a binary
            ``skip_conv_cfg``).

    Shape:
        ``(N, in_channels, H, W) -> (N, out_channels, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_ratio: float = 0.5,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 post_act_cfg: Optional[dict] = None, skip: str = 'auto',
                 gated: bool = False, gate_init: float = 1.0,
                 skip_conv_cfg: Optional[dict] = None, bias: bool = False,
                 skip_act_cfg: Union[str, dict, None] = BLOCK_ACT) -> None:
        super().__init__()
        mid = int(out_channels * mid_ratio)
        if mid <= 0:
            raise ValueError(f'bottleneck width int({out_channels} * {mid_ratio}) must be > 0')
        kw = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg,
                  post_act_cfg=post_act_cfg, bias=bias)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.conv1 = PreActConv(in_channels, mid, 1, **kw)
        self.conv2 = PreActConv(mid, mid, 3, **kw)
        self.conv3 = PreActConv(mid, out_channels, 1, **kw)
        self.shortcut = Shortcut(in_channels, out_channels, skip, gated, gate_init,
                                 skip_conv_cfg, norm_cfg,
                                 skip_activation(act_cfg, skip_act_cfg))

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv3(self.conv2(self.conv1(x)))
        s = self.shortcut(x)
        return out if s is None else out + s
