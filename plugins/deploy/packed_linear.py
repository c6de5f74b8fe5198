"""Inference binary fully connected layer on packed weights: a 1x1 packed convolution.

``y = (sign(x) @ sign(W)^T) * s + b`` (then the post activation), as ``BinaryLinear`` computes
in eval mode; ``x`` of shape (..., in_features) is run as (N', in_features, 1, 1).
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor

from .packed_conv import PackedBinaryConv2d


class PackedBinaryLinear(PackedBinaryConv2d):
    """Packed ``BinaryLinear``.

    Args:
        in_features, out_features: as ``nn.Linear``.
        scale_kind: ``'none'`` or ``'channel'`` ((O,) output scale).
        bias: has a bias.
        backend: ``'kernel'`` or ``'torch'``.

    Shape: (..., in_features) -> (..., out_features) float32.
    """

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 scale_kind: str = 'none',
                 bias: bool = False,
                 backend: str = 'kernel') -> None:
        super().__init__(in_features,
                         out_features,
                         1,
                         scale_kind=scale_kind,
                         bias=bias,
                         backend=backend)

    @classmethod
    def from_linear_signs(cls,
                          signs: Tensor,
                          scale: Optional[Tensor] = None,
                          bias: Optional[Tensor] = None,
                          backend: str = 'kernel') -> 'PackedBinaryLinear':
        """Build from the sign weight (O, I), an (O,) scale and an (O,) bias."""
        o, i = signs.shape
        conv = PackedBinaryConv2d.from_signs(signs.reshape(o, i, 1, 1),
                                             scale=scale,
                                             bias=bias,
                                             backend=backend)
        layer = cls(i, o, conv.scale_kind, bias is not None, backend)
        layer.load_state_dict(conv.state_dict())
        return layer

    def constructor_args(self) -> dict:
        return dict(in_features=self.in_channels, out_features=self.out_channels,
                    scale_kind=self.scale_kind, bias=self.bias is not None)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_channels:
            raise ValueError(f'expected (..., {self.in_channels}) input, got {tuple(x.shape)}')
        lead = x.shape[:-1]
        y = super().forward(x.reshape(-1, self.in_channels, 1, 1))
        return y.reshape(*lead, self.out_channels)
