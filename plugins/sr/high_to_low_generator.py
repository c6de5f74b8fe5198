"""The High-to-Low generator: degrade and downsample a face (64x64 -> 16x16) given a noise vector.

"To learn image super-resolution, use a GAN to learn how to do image degradation first"
(Bulat et al., 2018), Sec. 3.1: an encoder-decoder of pre-activation residual blocks. A noise
vector ``z`` is projected by a fully connected layer to one image-sized channel and concatenated
to the RGB input; the encoder halves the resolution with average pooling after each group of
residual blocks (64 -> 4 px with the defaults) and the decoder doubles it with pixel shuffle
(4 -> 16 px). Defaults give the paper's 12 blocks in 6 groups of 2.
"""
from __future__ import annotations

import torch
from mmengine.registry import MODELS
from torch import nn
from torch.nn import functional as F

from .residual_block import PreActResidualBlock
from .spectral_norm import add_spectral_norm

__all__ = ['HighToLowGenerator']


@MODELS.register_module()
class HighToLowGenerator(nn.Module):
    """High-to-Low generator ``G_HL(x_HR, z) -> x_LR``.

    Args:
        in_size: side of the (square) HR input; the noise is projected to ``in_size**2`` values.
        in_channels: image channels.
        channels: feature channels of every residual block.
        noise_dim: length of ``z`` (``0``: no noise input).
        num_down: encoder groups, each followed by a 2x average pooling.
        num_up: decoder groups, each followed by a 2x pixel shuffle. The output side is
            ``in_size / 2**num_down * 2**num_up`` (64 / 16 * 4 = 16 by default).
        blocks_per_group: residual blocks per group.
        conv_cfg, norm_cfg, act_cfg: mmcv configs of the residual blocks.
        spectral_norm: spectrally normalise every conv/linear layer (the paper uses it on the
            discriminators; off by default here).
        pooled_skip: add the average-pooled input to the output, so the network learns the
            degradation as a residual (off in the paper; useful for short training runs).
    """

    def __init__(self,
                 in_size: int = 64,
                 in_channels: int = 3,
                 channels: int = 64,
                 noise_dim: int = 64,
                 num_down: int = 4,
                 num_up: int = 2,
                 blocks_per_group: int = 2,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 spectral_norm: bool = False,
                 pooled_skip: bool = False) -> None:
        super().__init__()
        if in_size % (2**num_down) != 0:
            raise ValueError(f'in_size={in_size} must be divisible by 2**num_down={2**num_down}')
        if num_up > num_down:
            raise ValueError(f'num_up={num_up} > num_down={num_down} would upsample, not degrade')
        if noise_dim < 0 or blocks_per_group < 1:
            raise ValueError(f'need noise_dim >= 0 and blocks_per_group >= 1, got {noise_dim} '
                             f'and {blocks_per_group}')
        self.in_size, self.in_channels, self.noise_dim = in_size, in_channels, noise_dim
        self.scale = 2**(num_down - num_up)
        self.pooled_skip = pooled_skip
        self.noise_fc = nn.Linear(noise_dim, in_size * in_size) if noise_dim else None
        self.conv_in = nn.Conv2d(in_channels + (1 if noise_dim else 0), channels, 3, padding=1)

        def group() -> list:
            return [
                PreActResidualBlock(channels, conv_cfg, norm_cfg, act_cfg)
                for _ in range(blocks_per_group)
            ]

        layers: list = []
        for _ in range(num_down):
            layers += group() + [nn.AvgPool2d(2)]
        for _ in range(num_up):
            layers += group() + [
                nn.Conv2d(channels, 4 * channels, 3, padding=1),
                nn.PixelShuffle(2)
            ]
        self.body = nn.Sequential(*layers)
        self.conv_out = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, in_channels, 3, padding=1))
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Degrade ``x``.

        Args:
            x: HR images (B, C, in_size, in_size), values in [-1, 1].
            z: noise (B, noise_dim); ``None`` draws ``z ~ N(0, I)``.

        Returns:
            LR images (B, C, in_size / scale, in_size / scale), values about [-1, 1].
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[-2:] != (self.in_size, ) * 2:
            raise ValueError(f'expected input (B, {self.in_channels}, {self.in_size}, '
                             f'{self.in_size}), got {tuple(x.shape)}')
        if self.noise_fc is not None:
            if z is None:
                z = torch.randn(x.shape[0], self.noise_dim, device=x.device, dtype=x.dtype)
            if z.shape != (x.shape[0], self.noise_dim):
                raise ValueError(f'expected noise ({x.shape[0]}, {self.noise_dim}), got '
                                 f'{tuple(z.shape)}')
            noise_map = self.noise_fc(z).view(x.shape[0], 1, self.in_size, self.in_size)
            inputs = torch.cat([x, noise_map], dim=1)
        else:
            inputs = x
        out = self.conv_out(self.body(self.conv_in(inputs)))
        return out + self.pooled_input(x) if self.pooled_skip else out

    def pooled_input(self, x: torch.Tensor) -> torch.Tensor:
        """The target of the pixel loss: ``x`` average-pooled by ``scale`` (B, C, H/s, W/s)."""
        return F.avg_pool2d(x, self.scale)
