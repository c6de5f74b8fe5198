"""The C++ pools of ``csrc/pool.cpp`` (exact ResNet stem max-pool and 2x2 average pool).

Compiled on first use, never at import (:func:`plugins.deploy.build.compiled_library`, cached
by source hash, OpenMP with ``torch.get_num_threads()`` threads). Without a compiler (one
warning) or with ``PLUGINS_OPS_NATIVE=0`` in the environment, :func:`native_pool` returns None
and :mod:`plugins.ops.resample` uses its torch-view formulas; both give torch's values.
"""
from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ..deploy.build import LazyLibrary

SOURCE = Path(__file__).parent / 'csrc' / 'pool.cpp'
#: pool name -> (C function, output size of an (H, W) input)
POOLS = {
    'max3x3s2': ('ops_max_pool3x3s2', lambda h, w: ((h - 1) // 2 + 1, (w - 1) // 2 + 1)),
    'avg2x2': ('ops_avg_pool2x2', lambda h, w: (h // 2, w // 2)),
}

def _declare(lib: ctypes.CDLL) -> None:
    for fn, _ in POOLS.values():
        f = getattr(lib, fn)
        f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int]
        f.restype = ctypes.c_int


_library = LazyLibrary(SOURCE, _declare, 'plugins.ops pools', env='PLUGINS_OPS_NATIVE')


def pool_library() -> Optional[ctypes.CDLL]:
    """The compiled pool library, built on the first call; None when disabled
    (``PLUGINS_OPS_NATIVE=0``) or when it cannot be built (one warning)."""
    return _library()


def native_pool(name: str, x: Tensor) -> Optional[Tensor]:
    """``name`` (a key of :data:`POOLS`) of ``x`` in C++, or None where the C++ pass does not
    apply (not a contiguous float32 4-D CPU tensor, autograd recording, library unavailable).

    Args:
        name: ``'max3x3s2'`` (``F.max_pool2d(x, 3, 2, 1)``) or ``'avg2x2'``
            (``F.avg_pool2d(x, 2, 2)``, even H and W).
        x: (N, C, H, W).

    Returns:
        (N, C, H_out, W_out) or None.
    """
    if name not in POOLS:
        raise ValueError(f'unknown pool {name!r}; allowed: {sorted(POOLS)}')
    if x.dim() != 4 or x.device.type != 'cpu' or x.dtype != torch.float32 or \
            not x.is_contiguous() or (torch.is_grad_enabled() and x.requires_grad):
        return None
    lib = pool_library()
    if lib is None:
        return None
    fn, size = POOLS[name]
    n, c, h, w = x.shape
    y = torch.empty(n, c, *size(h, w))
    if getattr(lib, fn)(x.data_ptr(), y.data_ptr(), n * c, h, w, torch.get_num_threads()):
        return None  # geometry the C++ pass does not take (e.g. odd sizes for avg2x2)
    return y


__all__ = ['POOLS', 'native_pool', 'pool_library']
