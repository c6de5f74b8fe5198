"""The Low-to-High generator: 4x super-resolution of a (degraded) face, 16x16 -> 64x64.

"To learn image super-resolution, use a GAN to learn how to do image degradation first"
(Bulat et al., 2018), Sec. 3.3: a stack of pre-activation residual blocks in groups; after each
of the first groups a pixel shuffle doubles the resolution (16 -> 32 -> 64 px for 4x).
The network is fully convolutional, so any input size works at test time.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from mmengine.registry import MODELS
from torch import nn
from torch.nn import functional as F

from .residual_block import PreActResidualBlock
from .spectral_norm import add_spectral_norm

__all__ = ['LowToHighGenerator']


@MODELS.register_module()
class LowToHighGenerator(nn.Module):
    """Low-to-High generator ``G_LH(x_LR) -> x_SR``.

    Args:
        in_channels: image channels.
        channels: feature channels of every residual block.
        scale: upsampling factor, a power of 2.
        blocks_per_group: residual blocks of each group; there are ``log2(scale) + 1`` groups,
            a 2x pixel shuffle follows every group but the last. Default ``(4, 4, 4)``: 12 blocks.
        conv_cfg, norm_cfg, act_cfg: mmcv configs of the residual blocks.
        bicubic_skip: add the bicubic upsampling of the input to the output, so the network
            learns a residual (off in the paper; useful for short training runs).
        spectral_norm: spectrally normalise every conv layer.
    """

    def __init__(self,
                 in_channels: int = 3,
                 channels: int = 64,
                 scale: int = 4,
                 blocks_per_group: Sequence[int] = (4, 4, 4),
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 bicubic_skip: bool = False,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        num_up = int(round(math.log2(scale))) if scale >= 1 else -1
        if num_up < 1 or 2**num_up != scale:
            raise ValueError(f'scale must be a power of 2 (2, 4, 8, ...), got {scale}')
        blocks_per_group = tuple(blocks_per_group)
        if len(blocks_per_group) != num_up + 1 or min(blocks_per_group) < 0:
            raise ValueError(f'blocks_per_group needs log2(scale)+1 = {num_up + 1} non-negative '
                             f'counts for scale={scale}, got {blocks_per_group}')
        self.in_channels, self.scale, self.bicubic_skip = in_channels, scale, bicubic_skip
        layers: list = [nn.Conv2d(in_channels, channels, 3, padding=1)]
        for i, count in enumerate(blocks_per_group):
            layers += [
                PreActResidualBlock(channels, conv_cfg, norm_cfg, act_cfg) for _ in range(count)
            ]
            if i < num_up:
                layers += [nn.Conv2d(channels, 4 * channels, 3, padding=1), nn.PixelShuffle(2)]
        layers += [nn.ReLU(), nn.Conv2d(channels, in_channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: LR images (B, C, h, w) in [-1, 1]. Returns: (B, C, scale*h, scale*w)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'expected input (B, {self.in_channels}, h, w), got {tuple(x.shape)}')
        out = self.body(x)
        if self.bicubic_skip:
            out = out + F.interpolate(
                x, scale_factor=self.scale, mode='bicubic', align_corners=False)
        return out
