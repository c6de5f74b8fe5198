"""The C++ passes of ``csrc/pool.cpp``: exact pools (the ResNet stem's 3x3/2 max-pool, the
Bi-Real shortcuts' 2x2 average pool, the hourglass's 2x2 max-pool) and the hourglass's nearest
2x upsampling + skip addition, and the stacked hourglass's three-term merge ``(x + a) + b``.

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
    'max2x2': ('ops_max_pool2x2', lambda h, w: (h // 2, w // 2)),
}


def _declare(lib: ctypes.CDLL) -> None:
    P, I = ctypes.c_void_p, ctypes.c_int
    for fn, _ in POOLS.values():
        f = getattr(lib, fn)
        f.argtypes = [P, P, ctypes.c_int64, I, I, I]
        f.restype = I
    lib.ops_upsample2x_add.argtypes = [P, P, P, ctypes.c_int64, I, I, I]
    lib.ops_upsample2x_add.restype = I
    lib.ops_add3.argtypes = [P, P, P, P, ctypes.c_int64, I]
    lib.ops_add3.restype = I
    lib.ops_set_vector.argtypes = [I]
    lib.ops_set_vector.restype = I


_library = LazyLibrary(SOURCE, _declare, 'plugins.ops pools', env='PLUGINS_OPS_NATIVE')


def pool_library() -> Optional[ctypes.CDLL]:
    """The compiled pool library, built on the first call; None when disabled
    (``PLUGINS_OPS_NATIVE=0``) or when it cannot be built (one warning)."""
    return _library()


def _takes(*xs: Tensor, dim: Optional[int] = 4) -> bool:
    """Whether the C++ passes compute on these tensors: contiguous float32 CPU tensors of
    ``dim`` dimensions (any with None) that autograd does not record."""
    grad = torch.is_grad_enabled()
    return all((dim is None or x.dim() == dim) and x.device.type == 'cpu' and
               x.dtype == torch.float32 and x.is_contiguous() and
               not (grad and x.requires_grad) for x in xs)


def native_pool(name: str, x: Tensor) -> Optional[Tensor]:
    """``name`` (a key of :data:`POOLS`) of ``x`` in C++, or None where the C++ pass does not
    apply (not a contiguous float32 4-D CPU tensor, autograd recording, library unavailable).

    Args:
        name: ``'max3x3s2'`` (``F.max_pool2d(x, 3, 2, 1)``), ``'avg2x2'``
            (``F.avg_pool2d(x, 2, 2)``, even H and W) or ``'max2x2'`` (``F.max_pool2d(x, 2,
            2)``, H and W at least 2).
        x: (N, C, H, W).

    Returns:
        (N, C, H_out, W_out) or None.
    """
    if name not in POOLS:
        raise ValueError(f'unknown pool {name!r}; allowed: {sorted(POOLS)}')
    if not _takes(x):
        return None
    lib = pool_library()
    if lib is None:
        return None
    fn, size = POOLS[name]
    n, c, h, w = x.shape
    y = torch.empty(n, c, *size(h, w), dtype=torch.float32)
    if getattr(lib, fn)(x.data_ptr(), y.data_ptr(), n * c, h, w, torch.get_num_threads()):
        return None  # geometry the C++ pass does not take (e.g. odd sizes for avg2x2)
    return y


def native_upsample2x_add(skip: Tensor, low: Tensor) -> Optional[Tensor]:
    """``skip + F.interpolate(low, scale_factor=2, mode='nearest')`` in C++ (one addition per
    element, ``skip``'s value first), or None where the C++ pass does not apply (see
    :func:`native_pool`) or the shapes do not match.

    Args:
        skip: (N, C, 2h, 2w).
        low: (N, C, h, w).

    Returns:
        (N, C, 2h, 2w), a new tensor, or None.
    """
    if not _takes(skip, low):
        return None
    n, c, h, w = low.shape
    if skip.shape != (n, c, 2 * h, 2 * w):
        return None
    lib = pool_library()
    if lib is None:
        return None
    out = torch.empty(n, c, 2 * h, 2 * w, dtype=torch.float32)
    if lib.ops_upsample2x_add(skip.data_ptr(), low.data_ptr(), out.data_ptr(), n * c, h, w,
                              torch.get_num_threads()):
        return None
    return out


def native_add3(x: Tensor, a: Tensor, b: Tensor) -> Optional[Tensor]:
    """``x + a + b`` (``(x + a) + b``, each sum rounded to float32 as torch does) in one C++
    pass, or None where it does not apply (see :func:`native_pool`; any number of dimensions,
    but the three shapes must be equal: no broadcasting).

    Args:
        x, a, b: tensors of one shape.

    Returns:
        A new tensor of that shape, or None.
    """
    if not _takes(x, a, b, dim=None) or not x.shape == a.shape == b.shape:
        return None
    lib = pool_library()
    if lib is None:
        return None
    y = torch.empty(x.shape, dtype=torch.float32)
    if lib.ops_add3(x.data_ptr(), a.data_ptr(), b.data_ptr(), y.data_ptr(), x.numel(),
                    torch.get_num_threads()):
        return None
    return y


__all__ = ['POOLS', 'native_add3', 'native_pool', 'native_upsample2x_add', 'pool_library']
