"""Max-pooling for exported models: the same values, computed on a channels-last copy.

PyTorch's CPU ``max_pool2d`` on an NCHW tensor runs a scalar loop per plane; on a
channels-last tensor it vectorises over channels. Measured on this machine (1 thread, thread
CPU time, median of 20, under load): ResNet-18's stem pool (3x3, stride 2, on (1, 64, 112,
112)) 12.1 ms NCHW vs 3.5 ms channels-last including both layout conversions; the hourglass
stem's 2x2 pool on (1, 128, 64, 64) 5.5 ms vs 2.2 ms. That pool was 31 % of the packed
ResNet-18's time (docs/deploy.md). The maximum is exact, so the result is the same tensor (also
the sign of zeros and NaN propagation; tested). A 2x2 pool of stride 2 (the hourglass stem)
needs no copy: :func:`plugins.ops.max_pool2x2` takes the maximum of four strided views.
The 2x2 average pools of the Bi-Real down-sampling shortcuts run as sums of four strided views
(:func:`avg_pool2x2`: 0.48 vs 1.05 ms for ResNet-18's three, (1, 64, 56, 56), (1, 128, 28, 28)
and (1, 256, 14, 14), 1 thread, thread CPU time, medians of 100 interleaved rounds), and ResNet's
3x3 stride-2 stem pool as maxima of shifted views (:func:`max_pool3x3s2`: about 1.5 vs 2.3 ms
channels-last on (1, 64, 112, 112), no layout copies).
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.resample import max_pool2x2


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def avg_pool2x2(x: Tensor) -> Tensor:
    """``F.avg_pool2d(x, 2, 2)`` of a 4-D tensor with even H and W, the same tensor: torch's
    CPU kernel sums each window from ``+0`` in row-major order and divides by 4; the views are
    summed in that order and ``+ 0.0`` turns a sum of four ``-0.0`` into ``+0.0`` as the
    kernel's ``+0`` start does. (N, C, H, W) -> (N, C, H // 2, W // 2)."""
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
    """Column ``j`` is the maximum of columns ``2j - 1, 2j, 2j + 1`` (those that exist):
    ``p[k] = max(r[k], r[k + 1])`` over shifted contiguous views, then ``max(p[2j - 1],
    r[2j + 1])``. (N, C, H', W) -> (N, C, H', (W - 1) // 2 + 1)."""
    w = r.shape[3]
    n_out = (w - 1) // 2 + 1
    if w == 1:
        return r.clone()
    out = r.new_empty(r.shape[:3] + (n_out, ))
    p = torch.maximum(r[..., :w - 1], r[..., 1:])
    out[..., 0] = p[..., 0]
    full = (w - 2) // 2  # windows j = 1..full have all three columns
    if full > 0:
        torch.maximum(p[..., 1:2 * full:2], r[..., 3:2 * full + 2:2], out=out[..., 1:1 + full])
    if 1 + full < n_out:  # odd W: the last window has no right column
        out[..., n_out - 1] = p[..., w - 2]
    return out


def max_pool3x3s2(x: Tensor) -> Tensor:
    """``F.max_pool2d(x, 3, 2, 1)`` of a contiguous 4-D tensor without autograd, the same
    tensor.

    Maxima over the rows, then the columns, of shifted views. Equal float32 values have equal
    bits except ``+0.0`` and ``-0.0``, where max-pooling keeps the window's first and
    ``torch.maximum`` keeps the first or the second (its scalar and vectorised loops differ); so
    when an output is zero the result is recomputed by ``F.max_pool2d`` (on a channels-last
    copy). NaN propagates in both. (N, C, H, W) -> (N, C, (H - 1) // 2 + 1, (W - 1) // 2 + 1).
    """
    y = _max3_cols_stride2(_max3_rows_stride2(x))
    if not bool(y.all()):  # some output is +-0 (NaN counts as non-zero)
        y = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 3, 2, 1).contiguous()
    return y


class ChannelsLastMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` that pools a channels-last copy of a 4-D CPU input and returns NCHW;
    a 2x2, stride-2 pool without padding runs :func:`plugins.ops.max_pool2x2`
    instead (no layout copies).

    Shape: (N, C, H, W) -> (N, C, H_out, W_out), the same values as ``nn.MaxPool2d``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.device.type != 'cpu' or self.return_indices:
            return super().forward(x)
        stride = self.stride if self.stride is not None else self.kernel_size
        if (_pair(self.kernel_size), _pair(stride), _pair(self.padding),
                _pair(self.dilation)) == ((2, 2), (2, 2), (0, 0), (1, 1)) and not self.ceil_mode:
            return max_pool2x2(x)
        if (_pair(self.kernel_size), _pair(stride), _pair(self.padding),
                _pair(self.dilation)) == ((3, 3), (2, 2), (1, 1), (1, 1)) and \
                not self.ceil_mode and x.dtype == torch.float32 and x.is_contiguous() and \
                not (torch.is_grad_enabled() and x.requires_grad):
            return max_pool3x3s2(x)
        y = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), self.kernel_size,
                         self.stride, self.padding, self.dilation, self.ceil_mode)
        return y.contiguous()


class ViewsAvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d`` whose 2x2, stride-2 case without padding runs :func:`avg_pool2x2` on
    even-sized float32 4-D CPU inputs without autograd (``ceil_mode`` and ``count_include_pad``
    then change nothing); the same values as ``nn.AvgPool2d``.

    Shape: (N, C, H, W) -> (N, C, H_out, W_out).
    """

    def forward(self, x: Tensor) -> Tensor:
        stride = self.stride if self.stride is not None else self.kernel_size
        if x.dim() == 4 and x.device.type == 'cpu' and x.dtype == torch.float32 and \
                (_pair(self.kernel_size), _pair(stride), _pair(self.padding)) == \
                ((2, 2), (2, 2), (0, 0)) and self.divisor_override is None and \
                x.shape[-2] % 2 == 0 and x.shape[-1] % 2 == 0 and \
                not (torch.is_grad_enabled() and x.requires_grad):
            return avg_pool2x2(x)
        return super().forward(x)


def fast_pooling(model: nn.Module, names: Optional[List[str]] = None) -> nn.Module:
    """Make every ``nn.MaxPool2d`` of ``model`` a :class:`ChannelsLastMaxPool2d` and every
    ``nn.AvgPool2d`` a :class:`ViewsAvgPool2d`, and run ``BatchNorm -> PReLU -> max-pool``
    as ``max-pool -> BatchNorm -> PReLU`` where that is exact
    (:func:`plugins.deploy.pool_first.pool_first`), in place (no parameters or buffers change).

    Args:
        model: any module.
        names: if given, the names of the changed modules are appended to it.

    Returns:
        ``model``.
    """
    from .pool_first import pool_first
    pool_first(model)  # norm and activation after the max-pool where that is exact
    for name, module in model.named_modules():
        if type(module) is nn.MaxPool2d:
            module.__class__ = ChannelsLastMaxPool2d
        elif type(module) is nn.AvgPool2d:
            module.__class__ = ViewsAvgPool2d
        else:
            continue
        if names is not None:
            names.append(name)
    return model
