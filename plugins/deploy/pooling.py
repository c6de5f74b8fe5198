"""Pooling for exported and float models: the same values as torch's pools, faster on the CPU.

PyTorch's CPU ``max_pool2d`` on an NCHW tensor runs a scalar loop per plane (ResNet-18's stem
pool, 3x3, stride 2 on (1, 64, 112, 112): 5.5-12 ms at 1 thread on this machine; the hourglass
stem's 2x2 pool on (1, 128, 64, 64) 5.5 ms). :class:`ViewsMaxPool2d` computes the 2x2/2 pool
as the maximum of four strided views (:func:`plugins.ops.max_pool2x2`), the 3x3/2 stem pool
as row maxima of shifted views followed by a 1-D pool along the rows
(:func:`plugins.ops.max_pool3x3s2`: 0.42 ms at 2 threads), and any other geometry on a
channels-last copy (torch vectorises it over channels). :class:`ViewsAvgPool2d` computes the
2x2 average pools of the Bi-Real down-sampling shortcuts as sums of four strided views
(:func:`plugins.ops.avg_pool2x2`: 0.48 vs 1.05 ms for ResNet-18's three, 1 thread). The
results are the same tensors, also the sign of zeros and NaN propagation (tested).
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.resample import avg_pool2x2, max_pool2x2, max_pool3x3s2


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class ViewsMaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` with fast exact paths for 4-D CPU inputs: a 2x2, stride-2 pool without
    padding runs :func:`plugins.ops.max_pool2x2` and ResNet's 3x3, stride-2, padding-1 pool
    :func:`plugins.ops.max_pool3x3s2` (strided views, no layout copies); other geometries pool
    a channels-last copy, which torch vectorises over channels.

    Shape: (N, C, H, W) -> (N, C, H_out, W_out), the same values as ``nn.MaxPool2d``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.device.type != 'cpu' or self.return_indices:
            return super().forward(x)
        stride = self.stride if self.stride is not None else self.kernel_size
        geometry = (_pair(self.kernel_size), _pair(stride), _pair(self.padding),
                    _pair(self.dilation), self.ceil_mode)
        if geometry == ((2, 2), (2, 2), (0, 0), (1, 1), False):
            return max_pool2x2(x)
        if geometry == ((3, 3), (2, 2), (1, 1), (1, 1), False) and \
                x.dtype == torch.float32 and x.is_contiguous() and \
                not (torch.is_grad_enabled() and x.requires_grad):
            return max_pool3x3s2(x)
        y = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), self.kernel_size,
                         self.stride, self.padding, self.dilation, self.ceil_mode)
        return y.contiguous()


#: the earlier name of :class:`ViewsMaxPool2d` (kept so existing imports keep working)
ChannelsLastMaxPool2d = ViewsMaxPool2d


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
    """Make every ``nn.MaxPool2d`` of ``model`` a :class:`ViewsMaxPool2d` and every
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
            module.__class__ = ViewsMaxPool2d
        elif type(module) is nn.AvgPool2d:
            module.__class__ = ViewsAvgPool2d
        else:
            continue
        if names is not None:
            names.append(name)
    return model
