"""The discriminators of the High-to-Low (16x16 input) and Low-to-High (64x64 input) GANs.

"To learn image super-resolution, use a GAN to learn how to do image degradation first"
(Bulat et al., 2018), Sec. 3.2/3.3: a ResNet of residual blocks without batch norm followed by a
fully connected layer; max pooling after the last blocks reduces the resolution to 4x4 (two
poolings for the 16x16 input, four for the 64x64 one). Spectral normalisation on every layer.
"""
from __future__ import annotations

import torch
from mmengine.registry import MODELS
from torch import nn

from .residual_block import PreActResidualBlock
from .spectral_norm import add_spectral_norm

__all__ = ['SRDiscriminator']


@MODELS.register_module()
class SRDiscriminator(nn.Module):
    """Residual discriminator ``D(x) -> score`` (a real number per image, for the hinge loss).

    Args:
        in_size: side of the square input (16 for High-to-Low, 64 for Low-to-High).
        in_channels: image channels.
        channels: feature channels.
        num_blocks: residual blocks (6 in the paper).
        num_pools: 2x max poolings, after each of the last ``num_pools`` blocks. ``None``: pool
            down to 4x4 (``log2(in_size / 4)``).
        conv_cfg, norm_cfg, act_cfg: mmcv configs of the residual blocks (no norm by default).
        spectral_norm: spectrally normalise every conv/linear layer (on in the paper).
    """

    def __init__(self,
                 in_size: int = 16,
                 in_channels: int = 3,
                 channels: int = 64,
                 num_blocks: int = 6,
                 num_pools: int | None = None,
                 conv_cfg: dict | None = None,
                 norm_cfg: dict | None = None,
                 act_cfg: dict = dict(type='ReLU'),
                 spectral_norm: bool = True) -> None:
        super().__init__()
        if num_pools is None:
            num_pools = max(0, (in_size // 4).bit_length() - 1)
        if not 0 <= num_pools <= num_blocks or in_size % (2**num_pools):
            raise ValueError(f'num_pools={num_pools} must be in [0, num_blocks={num_blocks}] and '
                             f'2**num_pools must divide in_size={in_size}')
        self.in_size, self.in_channels = in_size, in_channels
        layers: list = [nn.Conv2d(in_channels, channels, 3, padding=1)]
        for i in range(num_blocks):
            layers.append(PreActResidualBlock(channels, conv_cfg, norm_cfg, act_cfg))
            if i >= num_blocks - num_pools:
                layers.append(nn.MaxPool2d(2))
        layers += [nn.ReLU(), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        side = in_size // 2**num_pools
        self.fc = nn.Linear(channels * side * side, 1)
        if spectral_norm:
            add_spectral_norm(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: images (B, C, in_size, in_size) in [-1, 1]. Returns: scores (B, )."""
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[-2:] != (self.in_size, ) * 2:
            raise ValueError(f'expected input (B, {self.in_channels}, {self.in_size}, '
                             f'{self.in_size}), got {tuple(x.shape)}')
        return self.fc(self.features(x)).squeeze(1)
