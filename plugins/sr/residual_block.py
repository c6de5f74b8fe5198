"""Pre-activation residual block used by all four networks of the High-to-Low / Low-to-High GANs.

"To learn image super-resolution, use a GAN to learn how to do image degradation first"
(Bulat et al., 2018) builds its generators and discriminators from the pre-activation residual
block of "Identity Mappings in Deep Residual Networks" (He et al., 2016):
``x + conv(act(norm(conv(act(norm(x))))))``; the generators use batch norm, the discriminators
none. Convolutions are built through mmcv, so ``conv_cfg=dict(type='BinaryConv2d')`` (or any
conv registered in mmengine's ``MODELS``) swaps them.
"""
from __future__ import annotations

import torch
from mmcv.cnn import ConvModule
from torch import nn

__all__ = ['PreActResidualBlock']


class PreActResidualBlock(nn.Module):
    """``x + F(x)`` with ``F = [norm -> act -> conv3x3] x 2``; channels and size are kept.

    Args:
        channels: input and output channels.
        conv_cfg: mmcv conv config (``None``: ``nn.Conv2d``).
        norm_cfg: mmcv norm config, e.g. ``dict(type='BN')``; ``None`` for no normalisation.
        act_cfg: mmcv activation config.
    """

    def __init__(self,
                 channels: int,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU')) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f'channels must be >= 1, got {channels}')
        act_cfg = dict(act_cfg)
        if act_cfg.get('type') in ('ReLU', 'LeakyReLU'):
            act_cfg.setdefault('inplace', False)  # the input is also the skip path
        self.layers = nn.Sequential(*[
            ConvModule(channels, channels, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                       act_cfg=act_cfg, bias=True,
                       order=('norm', 'act', 'conv'))
            for _ in range(2)
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (B, C, H, W). Returns: (B, C, H, W)."""
        return x + self.layers(x)
