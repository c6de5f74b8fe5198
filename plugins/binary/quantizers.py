"""Quantisers that turn a real tensor into a binary one, with their backward approximations.

Each quantiser is an ``nn.Module`` built from ``dict(type=...)`` through :data:`QUANTIZERS`:

* ``SignSTE``: sign with the straight-through estimator of "Binarized Neural Networks"
  (Hubara et al.): forward ``sign(x)``, backward ``grad * 1{|x| < clip}`` (clipped identity;
  ``clip=None`` is the plain identity).
* ``ApproxSign``: sign forward, backward the derivative of the piecewise polynomial of
  "Bi-Real Net" (Liu et al.): ``grad * max(0, 2 - 2|x|)``.
* ``Identity``: the real-valued identity, for ablations (``binary = False``).

The forward sign is the *sign bit*: ``sign(x) = -1`` if the sign bit of ``x`` is set
(``x < 0`` or ``x = -0.0``), else ``+1``; it never returns 0. This is what a bit-packing kernel
that reads sign bits computes.
"""
from __future__ import annotations

from typing import Optional

import torch
from mmengine.registry import Registry
from torch import Tensor, nn

QUANTIZERS = Registry('quantizer')

_ONE = {}


def sign_bit(x: Tensor) -> Tensor:
    """``+1``/``-1`` from the sign bit of ``x`` (one fused elementwise pass, never 0).

    Args:
        x: any shape.

    Returns:
        Tensor of ``x``'s shape and dtype with values in {-1, +1}.
    """
    key = (x.dtype, x.device)
    one = _ONE.get(key)
    if one is None:
        one = _ONE[key] = torch.ones((), dtype=x.dtype, device=x.device)
    return torch.copysign(one, x)


class _SignSTEFunction(torch.autograd.Function):
    """sign forward; backward ``grad * 1{|x| < clip}`` (the derivative of ``clip *
    hardtanh(x / clip)``), one fused elementwise pass each way."""

    @staticmethod
    def forward(ctx, x: Tensor, clip: Optional[float],  # type: ignore[override]
                save_mask: bool) -> Tensor:
        ctx.clip, ctx.save_mask = clip, save_mask
        if clip is not None and ctx.needs_input_grad[0]:
            # the input itself (no copy; fastest) or a 1-byte boolean mask (least memory)
            ctx.save_for_backward(torch.lt(x.abs(), clip) if save_mask else x)
        return sign_bit(x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        if ctx.clip is None:
            return grad, None, None
        saved, = ctx.saved_tensors
        if ctx.save_mask:
            return grad * saved, None, None
        return torch.ops.aten.hardtanh_backward(grad, saved, -ctx.clip, ctx.clip), None, None


class _ApproxSignFunction(torch.autograd.Function):
    """sign forward; backward ``grad * max(0, 2 - 2|x|)`` (Bi-Real Net's ApproxSign)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return sign_bit(x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        x, = ctx.saved_tensors
        return grad * (2 - 2 * x.abs()).clamp_(min=0)


@QUANTIZERS.register_module()
class SignSTE(nn.Module):
    """Sign with the (clipped) straight-through estimator.

    Args:
        clip: the gradient passes where ``|x| < clip`` and is zero elsewhere (the derivative
            of ``clip * hardtanh(x / clip)``); ``None`` passes it everywhere (identity STE).
        save_mask: save a 1-byte boolean mask for the backward instead of a reference to the
            input (less memory when nothing else keeps the input alive, but two extra
            elementwise passes; measured about 2.5x the STE time on this machine).

    Shape: any -> same shape, values in {-1, +1}.
    """

    binary = True

    def __init__(self, clip: Optional[float] = 1.0, save_mask: bool = False) -> None:
        super().__init__()
        if clip is not None and clip <= 0:
            raise ValueError(f'SignSTE clip must be > 0 or None, got {clip!r}')
        self.clip = None if clip is None else float(clip)
        self.save_mask = save_mask

    def forward(self, x: Tensor) -> Tensor:
        return _SignSTEFunction.apply(x, self.clip, self.save_mask)

    def extra_repr(self) -> str:
        return f'clip={self.clip}, save_mask={self.save_mask}'


@QUANTIZERS.register_module()
class ApproxSign(nn.Module):
    """Sign with the polynomial approximation gradient of "Bi-Real Net" (Liu et al., 2018).

    Shape: any -> same shape, values in {-1, +1}.
    """

    binary = True

    def forward(self, x: Tensor) -> Tensor:
        return _ApproxSignFunction.apply(x)


@QUANTIZERS.register_module(name='Identity')
class IdentityQuantizer(nn.Module):
    """The real-valued identity (no quantisation), for ablations."""

    binary = False

    def forward(self, x: Tensor) -> Tensor:
        return x


def build_quantizer(cfg: Optional[dict]) -> Optional[nn.Module]:
    """Build a quantiser from ``dict(type=..., **options)``; ``None`` stays ``None``.

    Raises:
        KeyError: the type is not registered (the message lists the registered ones).
    """
    if cfg is None:
        return None
    if isinstance(cfg, nn.Module):
        return cfg
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'a quantizer config must be a dict with a "type" key or None, '
                         f'got {cfg!r}')
    if cfg['type'] not in QUANTIZERS.module_dict:
        raise KeyError(f'unknown quantizer {cfg["type"]!r}; allowed: '
                       f'{sorted(QUANTIZERS.module_dict)}')
    args = dict(cfg)
    return QUANTIZERS.module_dict[args.pop('type')](**args)  # no scope switch (no warnings)
