"""Quantisers that turn a real tensor into a binary one, with their backward approximations.

Each quantiser is an ``nn.Module`` built from ``dict(type=...)`` through :data:`QUANTIZERS`:

* ``SignSTE``: sign with the straight-through estimator of "Binarized Neural Networks"
  (Hubara et al.): forward ``sign(x)``, backward ``grad * 1{|x| <= clip}`` (clipped identity;
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
    """sign forward; backward ``grad * 1{|x| <= clip}`` from a saved boolean mask."""

    @staticmethod
    def forward(ctx, x: Tensor, clip: Optional[float]) -> Tensor:  # type: ignore[override]
        ctx.clip = clip
        if clip is not None and ctx.needs_input_grad[0]:
            ctx.save_for_backward(x.abs().le_(clip))  # 1 byte per element, not the float input
        return sign_bit(x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        if ctx.clip is None:
            return grad, None
        mask, = ctx.saved_tensors
        return grad * mask, None


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
        clip: the gradient passes where ``|x| <= clip`` and is zero elsewhere; ``None`` passes
            it everywhere (identity STE).

    Shape: any -> same shape, values in {-1, +1}.
    """

    binary = True

    def __init__(self, clip: Optional[float] = 1.0) -> None:
        super().__init__()
        if clip is not None and clip <= 0:
            raise ValueError(f'SignSTE clip must be > 0 or None, got {clip!r}')
        self.clip = clip

    def forward(self, x: Tensor) -> Tensor:
        return _SignSTEFunction.apply(x, self.clip)

    def extra_repr(self) -> str:
        return f'clip={self.clip}'


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
