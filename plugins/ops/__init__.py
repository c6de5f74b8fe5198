"""Tensor operations shared by several model families (no registries, no optional imports)."""
from .resample import max_pool2x2, upsample2x_add

__all__ = ['max_pool2x2', 'upsample2x_add']
