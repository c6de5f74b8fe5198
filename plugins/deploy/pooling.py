"""Max-pooling for exported models: the same values, computed on a channels-last copy.

PyTorch's CPU ``max_pool2d`` on an NCHW tensor runs a scalar loop per plane; on a
channels-last tensor it vectorises over channels. Measured on this machine (1 thread, thread
CPU time, median of 20, under load): ResNet-18's stem pool (3x3, stride 2, on (1, 64, 112,
112)) 12.1 ms NCHW vs 3.5 ms channels-last including both layout conversions; the hourglass
stem's 2x2 pool on (1, 128, 64, 64) 5.5 ms vs 2.2 ms. That pool was 31 % of the packed
ResNet-18's time (docs/deploy.md). The maximum is exact, so the result is the same tensor (also
the sign of zeros and NaN propagation; tested). A 2x2 pool of stride 2 (the hourglass stem)
needs no copy: :func:`plugins.ops.max_pool2x2` takes the maximum of four strided views.
"""
from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops.resample import max_pool2x2


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


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
        y = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), self.kernel_size,
                         self.stride, self.padding, self.dilation, self.ceil_mode)
        return y.contiguous()


def fast_pooling(model: nn.Module, names: Optional[List[str]] = None) -> nn.Module:
    """Make every ``nn.MaxPool2d`` of ``model`` a :class:`ChannelsLastMaxPool2d` in place
    (no parameters or buffers change).

    Args:
        model: any module.
        names: if given, the names of the changed modules are appended to it.

    Returns:
        ``model``.
    """
    for name, module in model.named_modules():
        if type(module) is nn.MaxPool2d:
            module.__class__ = ChannelsLastMaxPool2d
            if names is not None:
                names.append(name)
    return model
