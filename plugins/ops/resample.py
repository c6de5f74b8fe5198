"""The hourglass's 2x resampling: max-pooling down, upsampling + skip addition up.

PyTorch's CPU kernels for both are slow on contiguous (NCHW) tensors of few rows and many
channels, the hourglass's shape: measured on this project's 2-core machine (1 thread, a
(1, 256, 64, 64) tensor) ``F.max_pool2d(x, 2, 2)`` took 7-10 ms and ``F.interpolate(low,
scale_factor=2)`` 12-20 ms, against 1.7 ms for the four-way maximum and 1.2-2.2 ms for the
broadcast addition below (``tools/benchmark_deploy.py --profile`` shows their share of a
whole forward). Both give the same values bit for bit (tested, including signed zeros and NaN),
so the float model, its training and the exported binary model all use them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def max_pool2x2(x: Tensor) -> Tensor:
    """``F.max_pool2d(x, 2, 2)``, the same tensor.

    Without autograd on a CPU tensor it is computed as the maximum of the window's four
    strided views in window order (``torch.maximum`` keeps the first of equal values and
    propagates NaN like max-pooling). With autograd it calls ``F.max_pool2d``, whose gradient
    goes to one element of a tied window (``torch.maximum`` would split it).

    Args:
        x: (N, C, H, W).

    Returns:
        (N, C, H // 2, W // 2).
    """
    if x.dim() != 4 or x.device.type != 'cpu' or min(x.shape[-2:]) < 2 or \
            (torch.is_grad_enabled() and x.requires_grad):
        return F.max_pool2d(x, 2, 2)  # (and its error for a too small input)
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    out = torch.maximum(x[..., 0:h:2, 0:w:2], x[..., 0:h:2, 1:w:2])
    torch.maximum(out, x[..., 1:h:2, 0:w:2], out=out)
    return torch.maximum(out, x[..., 1:h:2, 1:w:2], out=out)


def upsample2x_add(skip: Tensor, low: Tensor, mode: str = 'nearest') -> Tensor:
    """``skip + F.interpolate(low, scale_factor=2, mode=mode)``.

    For ``'nearest'`` the upsampling is a broadcast inside the addition (no upsampled copy;
    without autograd the rows of ``low`` are widened first, so the broadcast runs over whole
    rows); ``'bilinear'`` (``align_corners=False``) interpolates first.

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
    if torch.is_grad_enabled() and (skip.requires_grad or low.requires_grad):
        out = skip.reshape(n, c, h, 2, w, 2) + low.reshape(n, c, h, 1, w, 1)
    else:  # widen the rows first: the broadcast then runs over rows of 2w (1.5-2x faster)
        wide = low.repeat_interleave(2, dim=-1)
        out = skip.reshape(n, c, h, 2, 2 * w) + wide.reshape(n, c, h, 1, 2 * w)
    return out.reshape(n, c, 2 * h, 2 * w)
