"""Tensor operations shared by several model families (no registries, no optional imports)."""
from .resample import avg_pool2x2, max_pool2x2, max_pool3x3s2, upsample2x_add
from .sums import add3

__all__ = ['add3', 'avg_pool2x2', 'max_pool2x2', 'max_pool3x3s2', 'upsample2x_add']
