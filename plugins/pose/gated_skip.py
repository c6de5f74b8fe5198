"""Soft-gated skip connection of "Toward fast and accurate human pose estimation via
soft-gated skip connections" (Bulat et al., FG 2020).

The identity path of a residual unit is scaled by a learnable per-channel gate:
``y = alpha * x + F(x)`` with ``alpha`` of shape ``(C,)``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class SoftGatedSkip(nn.Module):
    """Per-channel learnable gate on an identity path.

    Args:
        channels: number of channels ``C`` of the gated tensor.
        init: initial value of every gate (1.0 starts as a plain identity skip).

    Shape:
        input ``(N, C, H, W)`` -> output ``(N, C, H, W)``, ``out[:, c] = alpha[c] * x[:, c]``.
    """

    def __init__(self, channels: int, init: float = 1.0) -> None:
        super().__init__()
        if channels <= 0:
            raise ValueError(f'channels must be positive, got {channels}')
        self.channels = channels
        self.alpha = nn.Parameter(torch.full((channels,), float(init)))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] != self.channels:
            raise ValueError(f'SoftGatedSkip expects {self.channels} channels, got '
                             f'{x.shape[1]} (input shape {tuple(x.shape)})')
        return x * self.alpha.view(1, -1, *([1] * (x.dim() - 2)))

    def cost(self, inputs: tuple, output: Tensor):
        """One real multiply per element, ``C`` real parameters (complexity protocol)."""
        from plugins.analysis import LayerCost
        return LayerCost(flops=output.numel(), real_params=self.channels)

    def extra_repr(self) -> str:
        return f'channels={self.channels}'
