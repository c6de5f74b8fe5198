"""2x resampling without torch's slow NCHW CPU kernels: the hourglass's max-pooling down and
upsampling + skip addition up, and the Bi-Real ResNet's average and 3x3 stride-2 max pools.

PyTorch's CPU kernels for both are slow on contiguous (NCHW) tensors of few rows and many
channels, the hourglass's shape: measured on this project's 2-core machine (1 thread, a
(1, 256, 64, 64) tensor) ``F.max_pool2d(x, 2, 2)`` took 7-10 ms and ``F.interpolate(low,
scale_factor=2)`` 12-20 ms, against 1.7 ms for the four-way maximum and 1.2-2.2 ms for the
broadcast addition below (``tools/benchmark_deploy.py --profile`` shows their share of a
whole forward). Both give the same values bit for bit (tested, including signed zeros and NaN),
so the float model, its training and the exported binary model all use them. Contiguous
float32 inputs without autograd take the C++ passes of :mod:`plugins.ops.native` instead (one
pass each; (1, 256, 64, 64) at 2 threads on the 2-core AMD EPYC: max-pool 0.16-0.22 vs
0.9-2.2 ms, upsampling + addition 0.26-0.65 vs 0.9-1.5 ms, ``tools/benchmark_ops.py``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .native import native_pool, native_upsample2x_add


def max_pool2x2(x: Tensor) -> Tensor:
    """``F.max_pool2d(x, 2, 2)``, the same tensor.

    A contiguous float32 CPU tensor without autograd takes the C++ pass of
    :mod:`plugins.ops.native` (torch's rule in torch's window order, one pass). Other CPU
    tensors without autograd: the maximum of the window's four strided views in window order
    (``torch.maximum`` keeps the first of equal values and propagates NaN like max-pooling).
    With autograd it calls ``F.max_pool2d``, whose gradient goes to one element of a tied
    window (``torch.maximum`` would split it).

    Args:
        x: (N, C, H, W).

    Returns:
        (N, C, H // 2, W // 2).
    """
    if x.dim() != 4 or x.device.type != 'cpu' or min(x.shape[-2:]) < 2 or \
            (torch.is_grad_enabled() and x.requires_grad):
        return F.max_pool2d(x, 2, 2)  # (and its error for a too small input)
    y = native_pool('max2x2', x)
    if y is not None:
        return y
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    out = torch.maximum(x[..., 0:h:2, 0:w:2], x[..., 0:h:2, 1:w:2])
    torch.maximum(out, x[..., 1:h:2, 0:w:2], out=out)
    return torch.maximum(out, x[..., 1:h:2, 1:w:2], out=out)


def upsample2x_add(skip: Tensor, low: Tensor, mode: str = 'nearest') -> Tensor:
    """``skip + F.interpolate(low, scale_factor=2, mode=mode)``.

    For ``'nearest'``, contiguous float32 CPU tensors without autograd take the C++ pass of
    :mod:`plugins.ops.native` (one pass, no upsampled copy); otherwise the upsampling is a
    broadcast inside the addition (without autograd the rows of ``low`` are widened first, so
    the broadcast runs over whole rows). ``'bilinear'`` (``align_corners=False``)
    interpolates first.

    Args:
        skip: (N, C, 2h, 2w), the upper branch.
        low: (N, C, h, w), the lower branch.
        mode: ``'nearest'`` or ``'bilinear'``.

    Returns:
        (N, C, 2h, 2w).
    """
    if mode != 'nearest':
        return skip + F.interpolate(low, scale_factor=2, mode=mode, align_corners=False)
    n, c, h, w = low.shape
    if skip.shape != (n, c, 2 * h, 2 * w):
        raise ValueError(f'skip must be {(n, c, 2 * h, 2 * w)} for low {tuple(low.shape)}, '
                         f'got {tuple(skip.shape)}')
    out = native_upsample2x_add(skip, low)
    if out is not None:
        return out
    if torch.is_grad_enabled() and (skip.requires_grad or low.requires_grad):
        out = skip.reshape(n, c, h, 2, w, 2) + low.reshape(n, c, h, 1, w, 1)
    else:  # widen the rows first: the broadcast then runs over rows of 2w (1.5-2x faster)
        wide = low.repeat_interleave(2, dim=-1)
        out = skip.reshape(n, c, h, 2, 2 * w) + wide.reshape(n, c, h, 1, 2 * w)
    return out.reshape(n, c, 2 * h, 2 * w)


def avg_pool2x2(x: Tensor) -> Tensor:
    """``F.avg_pool2d(x, 2, 2)`` of a 4-D tensor with even H and W, the same tensor: torch's
    CPU kernel sums each window from ``+0`` in row-major order and divides by 4; the views are
    summed in that order and ``+ 0.0`` turns a sum of four ``-0.0`` into ``+0.0`` as the
    kernel's ``+0`` start does. A contiguous float32 CPU tensor without autograd takes the C++
    pass of :mod:`plugins.ops.native` (the same sums in one pass). (N, C, H, W) ->
    (N, C, H // 2, W // 2)."""
    y = native_pool('avg2x2', x)
    if y is not None:
        return y
    s = x[..., 0::2, 0::2] + x[..., 0::2, 1::2]
    s += x[..., 1::2, 0::2]
    s += x[..., 1::2, 1::2]
    return s.add_(0.0).div_(4)


def _max3_rows_stride2(x: Tensor) -> Tensor:
    """Row ``i`` of the result is the maximum of rows ``2i - 1, 2i, 2i + 1`` of ``x`` (those
    that exist). Rows are strided views with contiguous columns (vectorised maxima).
    (N, C, H, W) -> (N, C, (H - 1) // 2 + 1, W)."""
    h = x.shape[2]
    n_out, n_right = (h - 1) // 2 + 1, h // 2
    out = x.new_empty(x.shape[:2] + (n_out, x.shape[3]))
    torch.maximum(x[:, :, 0:2 * n_right - 1:2], x[:, :, 1:2 * n_right:2], out=out[:, :, :n_right])
    if n_right < n_out:  # odd H: the last window has no row below
        out[:, :, n_right:].copy_(x[:, :, 2 * n_right:])
    if n_out > 1:
        torch.maximum(x[:, :, 1:2 * n_out - 2:2], out[:, :, 1:], out=out[:, :, 1:])
    return out


def _max3_cols_stride2(r: Tensor) -> Tensor:
    """Column ``j`` is the maximum of columns ``2j - 1, 2j, 2j + 1`` (those that exist): a 1-D
    max-pool (3, stride 2, padding 1) over each row, whose CPU kernel runs along contiguous
    rows (0.19 vs 0.27-0.34 ms for maxima of strided views on (1, 64, 56, 112), 1-2
    threads). (N, C, H', W) -> (N, C, H', (W - 1) // 2 + 1)."""
    n, c, h, w = r.shape
    return F.max_pool1d(r.reshape(n * c * h, 1, w), 3, 2, 1).view(n, c, h, -1)


def _has_zero(y: Tensor) -> bool:
    """Whether some element of ``y`` is +0 or -0 (NaN is not zero). For float32, the minimum
    of the bits without the sign (one integer pass, 3x faster than ``y.all()``)."""
    if y.dtype == torch.float32 and y.is_contiguous():
        return int((y.view(torch.int32) & 0x7fffffff).amin()) == 0
    return not bool(y.all())


def max_pool3x3s2(x: Tensor) -> Tensor:
    """``F.max_pool2d(x, 3, 2, 1)`` of a contiguous 4-D tensor without autograd, the same
    tensor.

    Maxima over the rows of shifted views, then a 1-D max-pool along each row. Equal float32
    values have equal bits except ``+0.0`` and ``-0.0``, where max-pooling keeps the window's
    first and ``torch.maximum`` keeps the first or the second (its scalar and vectorised loops
    differ); so
    when an output is zero the result is recomputed by ``F.max_pool2d`` (on a channels-last
    copy). NaN propagates in both. A float32 tensor takes the C++ pass of
    :mod:`plugins.ops.native` instead (the same rule in one pass, zeros recomputed in torch's
    order). (N, C, H, W) -> (N, C, (H - 1) // 2 + 1, (W - 1) // 2 + 1).
    """
    y = native_pool('max3x3s2', x)
    if y is not None:
        return y
    y = _max3_cols_stride2(_max3_rows_stride2(x))
    if _has_zero(y):  # some output is +-0
        y = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 3, 2, 1).contiguous()
    return y
