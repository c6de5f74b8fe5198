"""The training forward of a binary convolution as oneDNN's int8 convolution: exact, and several
times faster than the float convolution of the same +-1 values on CPUs with int8 dot-product
instructions (AVX-512 VNNI, AMX).

A binary layer's forward convolves values in {-1, +1} (zero padding adds 0): every output is an
integer sum, exact in float32 and in int32 alike. oneDNN's quantised convolution
(``torch.ops.onednn.qconv2d_pointwise``, the op behind PyTorch's x86 int8 inference) takes the
activations as uint8 with a zero point and the weights as int8, accumulates in int32 and writes
float32 as ``acc * x_scale * w_scale[o] (+ bias)``. With ``x = q - 1`` (``q`` in {0, 2}, zero
point 1, scale 1; padded taps are the zero point, i.e. 0) and the per-channel weight scale set
to the layer's channel factor ``alpha``, it returns ``conv2d(xb, wb) * alpha (+ bias)`` with one
rounding per factor: the order of the layer's eval forward and of the packed deployment kernel.

Only the forward changes; the backward keeps the float ``convolution_backward`` of ``xb`` and
the folded weight ``wb * alpha`` (the gradients are those of the float path). CPU float32 only;
on other devices and dtypes, or where the op is missing or fails the exactness probe
(:func:`int8_conv_available`), layers use ``F.conv2d``.

Shapes: xb (N, C, H, W) in {-1, +1}, wb (O, C/groups, kh, kw) in {-1, +1}, alpha (O, ) or
None, bias (O, ) or None -> (N, O, H_out, W_out), contiguous.
"""
from __future__ import annotations

import functools
import warnings
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .train_ops import pooled_empty


def _ops():
    onednn = getattr(torch.ops, 'onednn', None)
    try:
        return onednn.qconv_prepack, onednn.qconv2d_pointwise
    except (AttributeError, RuntimeError):
        return None


def sign_to_uint8(xb: Tensor) -> Tensor:
    """{-1, +1} -> {0, 2} as uint8, channels-last (oneDNN's layout; the zero point 1 maps it
    back): -1 is 255 as int8 bits, and uint8 addition wraps. (N, C, H, W) -> same shape."""
    qx = torch.empty(xb.shape, dtype=torch.int8, memory_format=torch.channels_last)
    return qx.copy_(xb).view(torch.uint8).add_(1)


def pack_sign_weights(wb: Tensor, scale: Tensor, stride: Sequence[int], padding: Sequence[int],
                      dilation: Sequence[int], groups: int, x_shape: Sequence[int]) -> Tensor:
    """oneDNN's packed int8 weights of ``wb`` (+-1 values, (O, C / groups, kh, kw)) for inputs
    of ``x_shape`` from :func:`sign_to_uint8`, with the per-channel ``scale`` (O, ) float32."""
    prepack, _ = _ops()
    return prepack(wb.detach().to(torch.int8), scale, 1.0, 1, list(stride), list(padding),
                   list(dilation), groups, list(x_shape))


def int8_conv(qx: Tensor, packed: Tensor, scale: Tensor, bias: Optional[Tensor],
              stride: Sequence[int], padding: Sequence[int], dilation: Sequence[int],
              groups: int) -> Tensor:
    """``conv2d(qx - 1, wb) * scale (+ bias)`` in float32 from :func:`sign_to_uint8`'s ``qx``
    and :func:`pack_sign_weights`'s ``packed``; (N, O, H_out, W_out), channels-last."""
    _, qconv = _ops()
    zero = torch.zeros(scale.numel(), dtype=torch.int64)
    return qconv(qx, 1.0, 1, packed, scale, zero,
                 None if bias is None else bias.detach().to(torch.float32), list(stride),
                 list(padding), list(dilation), groups, 1.0, 0, torch.float32, 'none', [], '')


def exact_sign_conv(xb: Tensor, wb: Tensor, alpha: Optional[Tensor], bias: Optional[Tensor],
                    stride: Sequence[int], padding: Sequence[int], dilation: Sequence[int],
                    groups: int) -> Tensor:
    """``conv2d(xb, wb, None, ...) * alpha.view(-1, 1, 1) + bias.view(-1, 1, 1)`` through
    oneDNN's int8 convolution (see the module docstring), bit for bit.

    Args:
        xb: (N, C, H, W) float32 CPU tensor of +-1 values.
        wb: (O, C / groups, kh, kw) tensor of +-1 values.
        alpha: (O, ) per-channel factor, or None (1).
        bias: (O, ), or None.
        stride, padding, dilation: pairs, as ``F.conv2d`` takes them (zero padding).
        groups: as ``F.conv2d``.

    Returns:
        (N, O, H_out, W_out) float32, contiguous (a pooled buffer, see
        :func:`~plugins.binary.train_ops.pooled_empty`).
    """
    qx = sign_to_uint8(xb)
    scale = (torch.ones(wb.shape[0]) if alpha is None
             else alpha.detach().to(torch.float32).contiguous())
    geometry = (stride, padding, dilation, groups)
    y = int8_conv(qx, pack_sign_weights(wb, scale, *geometry, qx.shape), scale, bias, *geometry)
    return pooled_empty(y.shape).copy_(y)


def _probe() -> bool:
    """Whether :func:`exact_sign_conv` equals the float convolution of +-1 values bit for bit on
    a few awkward cases (padding, stride, dilation, groups, bias, sums beyond 2**8)."""
    g = torch.Generator().manual_seed(0)
    cases = [((2, 48, 9, 7), (32, 48, 3, 3), (1, 1), (1, 1), (1, 1), 1, True),
             ((1, 16, 8, 8), (8, 8, 3, 3), (2, 2), (2, 2), (2, 2), 2, False),
             ((1, 64, 5, 5), (16, 64, 1, 1), (1, 1), (0, 0), (1, 1), 1, True)]
    for xs, ws, stride, padding, dilation, groups, with_bias in cases:
        xb = torch.where(torch.rand(xs, generator=g) < 0.8, 1.0, -1.0)
        wb = torch.where(torch.rand(ws, generator=g) < 0.8, 1.0, -1.0)
        alpha = torch.rand(ws[0], generator=g) + 0.5
        bias = torch.randn(ws[0], generator=g) if with_bias else None
        ref = F.conv2d(xb, wb, None, stride, padding, dilation, groups) * alpha.view(-1, 1, 1)
        if bias is not None:
            ref = ref + bias.view(-1, 1, 1)
        got = exact_sign_conv(xb, wb, alpha, bias, stride, padding, dilation, groups)
        if not torch.equal(got, ref):
            return False
    return True


@functools.lru_cache(maxsize=None)
def int8_conv_available() -> bool:
    """True where oneDNN's int8 convolution exists and passes :func:`_probe` (computed once)."""
    if _ops() is None or not torch.backends.mkldnn.is_available():
        return False
    try:
        ok = _probe()
    except Exception as e:  # an op present in name only (a build without oneDNN int8)
        warnings.warn(f'oneDNN int8 convolution unusable ({e}); binary layers train with '
                      'the float convolution')
        return False
    if not ok:
        warnings.warn('oneDNN int8 convolution is not exact on this machine; binary layers '
                      'train with the float convolution')
    return ok
