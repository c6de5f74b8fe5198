"""Quantisers that turn a real tensor into a binary one, with their backward approximations.

Each quantiser is an ``nn.Module`` built from ``dict(type=...)`` through :data:`QUANTIZERS`:

* ``SignSTE``: sign with the straight-through estimator of "Binarized Neural Networks"
  (Hubara et al.): forward ``sign(x)``, backward ``grad * 1{|x| < clip}`` (clipped identity;
  ``clip=None`` is the plain identity).
* ``ApproxSign``: sign forward, backward the derivative of the piecewise polynomial of
  "Bi-Real Net" (Liu et al.): ``grad * max(0, 2 - 2|x|)``.
* ``SmoothSign``: a smooth approximation of sign with a steepness ``k`` ("Improved training of
  binary networks ...", Bulat et al. 2019, smooth progressive quantisation): ``tanh(k x)``,
  ``2 sigmoid(k x) - 1`` or ``softsign(k x)``; :class:`~plugins.binary.SmoothSignScheduleHook`
  raises ``k`` during training and finally switches it to the hard sign (``binary = True``).
* ``Identity``: the real-valued identity, for ablations (``binary = False``).

``SignSTE``, ``ApproxSign`` and ``SmoothSign`` take ``center``: subtract the mean before the
sign (the weight mean-centring of XNOR-Net / the bnn toolkit's ``center_weights``):
``'in_channels'`` subtracts the mean over dim 1 (the input channels of a conv weight, at each
output channel and kernel tap, as the bnn toolkit does), ``'filter'`` the mean over all dims but
dim 0 (per output filter). The gradient flows through the subtraction. Their ``hard_sign(x)``
returns the +-1 tensor the forward binarises to (what export and ``binary_weight()`` store).

The forward sign is the *sign bit*: ``sign(x) = -1`` if the sign bit of ``x`` is set
(``x < 0`` or ``x = -0.0``), else ``+1``; it never returns 0. This is what a bit-packing kernel
that reads sign bits computes.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
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
    # a 1-element ``one`` of shape (1, ): torch 2.14's CPU copysign with a 0-dim first operand
    # (a "CPU scalar") takes a slow loop, ~5x the time of the broadcast 1-element one (3.1 vs
    # 0.63 ms for 2 M elements); the values are the same (copysign is exact)
    key = (x.dtype, x.device)
    one = _ONE.get(key)
    if one is None:
        one = _ONE[key] = torch.ones(1, dtype=x.dtype, device=x.device)
    return torch.copysign(one if x.dim() else one[0], x)


def ste_saved(x: Tensor, clip: Optional[float], save_mask: bool) -> Optional[Tensor]:
    """What the clipped straight-through backward needs of the input ``x``: nothing
    (``clip=None``), ``x`` itself (no copy; fastest) or a 1-byte mask ``|x| < clip``."""
    if clip is None:
        return None
    return torch.lt(x.abs(), clip) if save_mask else x


def ste_grad(grad: Tensor, saved: Optional[Tensor], clip: Optional[float], save_mask: bool,
             inplace: bool = False) -> Tensor:
    """The clipped straight-through gradient ``grad * 1{|x| < clip}`` from :func:`ste_saved`.

    One elementwise pass (``hardtanh_backward``, or a multiply by the saved mask).

    Args:
        grad: gradient w.r.t. the sign's output, any shape.
        saved: :func:`ste_saved`'s result for the same ``clip``/``save_mask``.
        inplace: write the result into ``grad`` (only for a gradient the caller owns, e.g.
            one it has just computed; an incoming autograd gradient may be shared).

    Returns:
        Tensor of ``grad``'s shape (``grad`` itself when ``clip`` is None or ``inplace``).
    """
    if clip is None:
        return grad
    if save_mask:
        return grad.mul_(saved) if inplace else grad * saved
    if inplace:
        return torch.ops.aten.hardtanh_backward.grad_input(grad, saved, -clip, clip,
                                                           grad_input=grad)
    return torch.ops.aten.hardtanh_backward(grad, saved, -clip, clip)


class _SignSTEFunction(torch.autograd.Function):
    """sign forward; backward ``grad * 1{|x| < clip}`` (the derivative of ``clip *
    hardtanh(x / clip)``), one fused elementwise pass each way."""

    @staticmethod
    def forward(ctx, x: Tensor, clip: Optional[float],  # type: ignore[override]
                save_mask: bool) -> Tensor:
        ctx.clip, ctx.save_mask = clip, save_mask
        if clip is not None and ctx.needs_input_grad[0]:
            ctx.save_for_backward(ste_saved(x, clip, save_mask))
        return sign_bit(x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        if ctx.clip is None:
            return grad, None, None
        saved, = ctx.saved_tensors
        return ste_grad(grad, saved, ctx.clip, ctx.save_mask), None, None


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


CENTERS = (None, 'in_channels', 'filter')


class _Centred(nn.Module):
    """Base of the sign quantisers: optional mean-centring before the sign.

    Args:
        center: ``None``, ``'in_channels'`` (mean over dim 1) or ``'filter'`` (mean over all
            dims but 0).
    """

    def __init__(self, center: Optional[str] = None) -> None:
        super().__init__()
        if center not in CENTERS:
            raise ValueError(f'unknown center {center!r}; allowed: {list(CENTERS)}')
        self.center = center

    def centre(self, x: Tensor) -> Tensor:
        """``x`` minus its mean over the ``center`` dims (``x`` itself without centring)."""
        if self.center is None or x.dim() < 2:
            return x
        dims = (1, ) if self.center == 'in_channels' else tuple(range(1, x.dim()))
        return x - x.mean(dims, keepdim=True)

    @torch.no_grad()
    def hard_sign(self, x: Tensor) -> Tensor:
        """The {-1, +1} tensor the binary forward produces for ``x`` (no gradient)."""
        return sign_bit(self.centre(x))


@QUANTIZERS.register_module()
class SignSTE(_Centred):
    """Sign with the (clipped) straight-through estimator.

    Args:
        clip: the gradient passes where ``|x| < clip`` and is zero elsewhere (the derivative
            of ``clip * hardtanh(x / clip)``); ``None`` passes it everywhere (identity STE).
        save_mask: save a 1-byte boolean mask for the backward instead of a reference to the
            input (less memory when nothing else keeps the input alive, but two extra
            elementwise passes; measured about 2.5x the STE time on this machine).
        center: mean-centring before the sign (see the module docstring); the STE then acts
            on the centred input.

    Shape: any -> same shape, values in {-1, +1}.
    """

    binary = True

    def __init__(self, clip: Optional[float] = 1.0, save_mask: bool = False,
                 center: Optional[str] = None) -> None:
        super().__init__(center)
        if clip is not None and clip <= 0:
            raise ValueError(f'SignSTE clip must be > 0 or None, got {clip!r}')
        self.clip = None if clip is None else float(clip)
        self.save_mask = save_mask

    def forward(self, x: Tensor) -> Tensor:
        return _SignSTEFunction.apply(self.centre(x), self.clip, self.save_mask)

    def fused_ste(self) -> Optional[Tuple[Optional[float], bool]]:
        """``(clip, save_mask)`` when this quantiser is exactly ``sign_bit`` forward and the
        clipped straight-through backward of its input (no centring), so that a layer may
        compute it inside its own autograd function (:class:`~plugins.binary.BinaryConv2d`
        does: no separate sign node, the gradient masked in place); ``None`` otherwise."""
        return None if self.center is not None else (self.clip, self.save_mask)

    def extra_repr(self) -> str:
        return f'clip={self.clip}, save_mask={self.save_mask}, center={self.center!r}'


@QUANTIZERS.register_module()
class ApproxSign(_Centred):
    """Sign with the polynomial approximation gradient of "Bi-Real Net" (Liu et al., 2018).

    Args:
        center: mean-centring before the sign (see the module docstring).

    Shape: any -> same shape, values in {-1, +1}.
    """

    binary = True

    def forward(self, x: Tensor) -> Tensor:
        return _ApproxSignFunction.apply(self.centre(x))


def _scaled_sigmoid(z: Tensor) -> Tensor:
    return 2 * torch.sigmoid(z) - 1


#: the smooth approximations of sign(z) offered by :class:`SmoothSign`
SMOOTH_FUNCTIONS = {'tanh': torch.tanh, 'sigmoid': _scaled_sigmoid, 'softsign': F.softsign}


@QUANTIZERS.register_module()
class SmoothSign(_Centred):
    """A smooth approximation ``f(k z)`` of ``sign(z)`` whose steepness ``k`` is raised during
    training, then the hard sign (smooth progressive quantisation of "Improved training of
    binary networks for human pose estimation and image recognition", Bulat et al. 2019).

    ``z`` is the (optionally centred) input, divided by its mean absolute value when
    ``normalize=True`` (so that one ``k`` schedule suits activations after a norm layer and
    weights of any magnitude; the sign is unchanged by the division). Before the switch the
    forward is ``f(k z)`` with its exact gradient; after it (``hard``) the forward is
    ``sign(z)`` and the backward the clipped straight-through estimator of :class:`SignSTE`
    (``grad * 1{|z| < clip}``), i.e. the layer is then the standard binary layer.

    ``k`` and ``hard`` are buffers, so a checkpoint carries the state the schedule reached (a
    finished run evaluates with the hard sign).

    Args:
        k: initial steepness (> 0).
        fn: ``'tanh'`` (``tanh(k z)``), ``'sigmoid'`` (``2 sigmoid(k z) - 1``) or
            ``'softsign'`` (``k z / (1 + |k z|)``).
        hard: start with the hard sign.
        normalize: divide the input by its mean absolute value (detached) first.
        clip: STE clip of the hard phase (``None``: identity STE).
        center: mean-centring before everything else (see the module docstring).

    Shape: any -> same shape; values in (-1, 1), or {-1, +1} once hard.
    """

    def __init__(self, k: float = 1.0, fn: str = 'tanh', hard: bool = False,
                 normalize: bool = False, clip: Optional[float] = 1.0,
                 center: Optional[str] = None) -> None:
        super().__init__(center)
        if fn not in SMOOTH_FUNCTIONS:
            raise ValueError(f'unknown SmoothSign fn {fn!r}; allowed: {list(SMOOTH_FUNCTIONS)}')
        if not (isinstance(k, (int, float)) and k > 0 and math.isfinite(k)):
            raise ValueError(f'SmoothSign k must be a finite number > 0, got {k!r}')
        if clip is not None and clip <= 0:
            raise ValueError(f'SmoothSign clip must be > 0 or None, got {clip!r}')
        self.fn, self.normalize, self.clip = fn, normalize, clip
        self.register_buffer('k', torch.tensor(float(k)))
        self.register_buffer('hard', torch.tensor(bool(hard)))

    @property
    def binary(self) -> bool:
        """True once the schedule switched to the hard sign."""
        return bool(self.hard)

    def set_state(self, k: Optional[float] = None, hard: Optional[bool] = None) -> None:
        """Set the steepness and/or the hard switch (used by the schedule hook)."""
        if k is not None:
            if not k > 0:
                raise ValueError(f'SmoothSign k must be > 0, got {k!r}')
            self.k.fill_(float(k))
        if hard is not None:
            self.hard.fill_(bool(hard))

    def _input(self, x: Tensor) -> Tensor:
        z = self.centre(x)
        if self.normalize:
            z = z / z.detach().abs().mean().clamp_min(1e-12)
        return z

    def forward(self, x: Tensor) -> Tensor:
        z = self._input(x)
        if self.binary:
            return _SignSTEFunction.apply(z, self.clip, False)
        return SMOOTH_FUNCTIONS[self.fn](z * self.k)

    def fused_ste(self) -> Optional[Tuple[Optional[float], bool]]:
        """``(clip, False)`` once hard, without centring or normalisation (then the forward
        is :class:`SignSTE`'s); ``None`` otherwise (see :meth:`SignSTE.fused_ste`)."""
        if self.binary and self.center is None and not self.normalize:
            return self.clip, False
        return None

    def extra_repr(self) -> str:
        return (f'fn={self.fn!r}, k={float(self.k):g}, hard={self.binary}, '
                f'normalize={self.normalize}, center={self.center!r}')


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
