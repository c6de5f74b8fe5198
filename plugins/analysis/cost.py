"""The cost record that layers report to the complexity walker (see CONTRIBUTING.md)."""
from __future__ import annotations

from typing import NamedTuple


class LayerCost(NamedTuple):
    """Cost of one layer for one forward pass.

    Attributes:
        flops: real-valued multiply-accumulates.
        bops: binary multiply-accumulates (XNOR + popcount per weight bit).
        real_params: parameters stored as 32-bit floats at inference.
        binary_params: parameters stored as single bits at inference.
    """

    flops: int = 0
    bops: int = 0
    real_params: int = 0
    binary_params: int = 0

    def __add__(self, other: 'LayerCost') -> 'LayerCost':  # type: ignore[override]
        return LayerCost(*(a + b for a, b in zip(self, other)))
