"""Binary convolution and linear layers made of swappable parts (quantisers, scaling, latent
weight, post activation), registered in mmengine's root ``MODELS`` for ``conv_cfg``.

Forward of :class:`BinaryConv2d` (what an XNOR-popcount kernel must reproduce)::

    xb = act_quantizer(x)              # sign bit: +1 if x >= +0.0, -1 if x < 0 or x == -0.0
    W  = latent() if latent else weight
    wb = weight_quantizer(W)           # the same sign-bit rule
    y  = conv2d(xb, wb, stride, padding, dilation, groups)   # zero padding: padded taps are 0
    y  = y * s                         # output scale, see output_scale(): (O,1,1) or (O,H,W)
    y  = y * K                         # only with act_scale=True (XNOR-Net's K), (N,1,H,W)
    y  = y + bias.view(1, O, 1, 1)     # only with bias=True
    y  = post_act(y)                   # only with post_act (ChannelPReLU, LearnableSlope ...)

With the default ``padding_mode='zeros'`` the padded positions of ``xb`` are 0, a third value
(as in the bnn toolkit and XNOR-Net); a bit-packed kernel reproduces this by counting only
valid taps: ``conv = 2 * popcount(xnor(x, w) & valid) - n_valid``. In training the
per-channel factor of the scale (all of ``s`` for ``xnor`` and ``learned`` ``channel``, the
``alpha`` of ``rank1`` and ``channel_spatial``) is folded into the weights
(``conv2d(xb, wb * alpha) * spatial``), which equals ``conv2d(xb, wb) * s`` up to float32
rounding (the sums of +-alpha round; an exact 0 can come out as +-1e-8 * alpha); in eval mode
the layer computes ``conv2d(xb, wb) * s`` (exact integer, then one rounding per factor), the
order of the packed deployment kernel. On CPU (``int8_forward``, the default) the fused training
forward convolves with oneDNN's exact int8 convolution and applies the per-channel factor in its
epilogue, so it computes ``conv2d(xb, wb) * alpha`` in the eval order too; the folded weights
``wb * alpha`` then serve the backward only (:mod:`plugins.binary.int8_conv`).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from .activations import build_post_activation
from .int8_conv import exact_sign_conv, int8_conv_available
from .latent import build_latent
from .quantizers import build_quantizer, sign_bit
from .scaling import (FixedScale, LearnedScale, NoScale, XNORScale, activation_factor,
                      build_scaling)
from .train_ops import scale_backward, scale_forward, sign_ste_backward, sign_ste_forward

_DEFAULT_Q = dict(type='SignSTE')


def _scale_grads(grad: Tensor, y: Tensor, s: Tensor, need_y: bool, need_s: bool,
                 need_b: bool, native: bool):
    """``(grad_y, grad_s, grad_b)`` of ``y * s + bias`` (see
    :func:`~plugins.binary.train_ops.scale_backward`: one C++ pass on CPU float32, else torch
    ops, the same bits; ``grad_s = sum_n grad[n] * y[n]`` without an (N, O, H, W) temporary)."""
    grad_y, grad_s = scale_backward(grad, y, s, need_y, need_s, native)
    if grad_s is not None and s.shape != grad_s.shape:  # s broadcast over a dim of size 1
        grad_s = grad_s.sum_to_size(s.shape)
    grad_b = grad.sum((0, 2, 3)) if need_b else None
    return grad_y, grad_s, grad_b


class _ScaleOutput(torch.autograd.Function):
    """``out = y * s (+ bias)`` for a spatial scale ``s`` (O, H, W) or (H, W) (the layers whose
    sign cannot be fused into the convolution; otherwise :class:`_SignConv2d` does this)."""

    @staticmethod
    def forward(ctx, y: Tensor, s: Tensor, bias: Optional[Tensor],  # type: ignore
                native: bool = True) -> Tensor:
        ctx.save_for_backward(y, s)
        ctx.has_bias, ctx.native = bias is not None, native
        return scale_forward(y, s, bias, native)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        y, s = ctx.saved_tensors
        need = ctx.needs_input_grad
        return _scale_grads(grad, y, s, need[0], need[1], ctx.has_bias and need[2],
                            ctx.native) + (None, )


class _SignConv2d(torch.autograd.Function):
    """``conv2d(sign_bit(x), weight, bias)`` whose backward gives ``x`` the clipped
    straight-through gradient, as one autograd node (training path of :class:`BinaryConv2d`
    when its activation quantiser reports :meth:`~plugins.binary.SignSTE.fused_ste`); with a
    spatial scale ``s``, ``conv2d(sign_bit(x), weight) * s + bias`` (as :class:`_ScaleOutput`).

    The values are those of the two-node form ``conv2d(SignSTE(x), ...)`` (same aten ops:
    ``copysign``, ``convolution``, ``convolution_backward``, ``hardtanh_backward``); what is
    saved is that the straight-through mask is applied *in place* to the input gradient the
    convolution backward has just allocated (no second input-sized tensor, no page faults on
    a fresh allocation) and one autograd node and Python call less. Device agnostic.

    With ``native`` (CPU contiguous float32 tensors) the elementwise passes are the C++ ones
    of :mod:`plugins.binary.train_ops`, same values: the sign also writes the
    straight-through mask as bits (the backward reads those instead of ``x``), and with a
    spatial scale the backward computes ``grad * s`` and the scale's gradient in one pass;
    their outputs reuse pooled memory (no page faults on fresh allocations).

    With ``int8 = (wb, alpha)`` (``weight == wb * alpha``, ``wb`` in {-1, +1}, ``alpha`` (O, )
    or None; CPU float32 where :func:`~plugins.binary.int8_conv.int8_conv_available`) the
    forward convolution is oneDNN's exact int8 one, ``conv2d(xb, wb) * alpha (+ bias)`` with one
    rounding per factor, the eval order, instead of ``conv2d(xb, wb * alpha)`` (equal up to
    float rounding); the backward is unchanged.

    Shapes: x (N, C, H, W), weight (O, C/groups, kh, kw), bias (O, ) or None, spatial
    (O, H_out, W_out) or (H_out, W_out) or None -> (N, O, H_out, W_out).
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Optional[Tensor],  # type: ignore
                clip: Optional[float], save_mask: bool, stride, padding, dilation,
                groups: int, spatial: Optional[Tensor] = None, native: bool = True,
                int8: Optional[Tuple[Tensor, Optional[Tensor]]] = None) -> Tensor:
        xb, saved, ctx.bits = sign_ste_forward(x, clip, save_mask, ctx.needs_input_grad[0],
                                               native)
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.clip, ctx.save_mask, ctx.native = clip, save_mask, native
        ctx.has_bias = bias is not None
        ctx.scaled = spatial is not None
        conv_bias = bias if spatial is None else None
        if int8 is not None:  # (wb, alpha) with weight == wb * alpha: exact int8 forward
            y = exact_sign_conv(xb, int8[0], int8[1], conv_bias, stride, padding, dilation,
                                groups)
        else:
            y = F.conv2d(xb, weight, conv_bias, stride, padding, dilation, groups)
        if spatial is None:
            ctx.save_for_backward(xb, weight, saved)
            return y
        ctx.save_for_backward(xb, weight, saved, y, spatial)
        return scale_forward(y, spatial, bias, native)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        xb, weight, saved = ctx.saved_tensors[:3]
        stride, padding, dilation, groups = ctx.geometry
        need = ctx.needs_input_grad
        grad_s = grad_b = None
        if ctx.scaled:  # grad becomes the gradient of the unscaled convolution (or None)
            y, spatial = ctx.saved_tensors[3:]
            grad, grad_s, grad_b = _scale_grads(grad, y, spatial, need[0] or need[1], need[9],
                                                ctx.has_bias and need[2], ctx.native)
        bias_sizes = [weight.shape[0]] if ctx.has_bias and not ctx.scaled else None
        mask = [need[0], need[1], bias_sizes is not None and need[2]]
        grad_x = grad_w = None
        if any(mask):
            grad_x, grad_w, grad_conv_b = torch.ops.aten.convolution_backward(
                grad, xb, weight, bias_sizes, stride, padding, dilation, False, [0, 0],
                groups, mask)
            if bias_sizes is not None:
                grad_b = grad_conv_b
        if grad_x is not None:  # freshly allocated by convolution_backward: ours to modify
            grad_x = sign_ste_backward(grad_x, saved, ctx.clip, ctx.save_mask, ctx.bits)
        return grad_x, grad_w, grad_b, None, None, None, None, None, None, grad_s, None, None


class _BinaryMixin:
    """Parts shared by :class:`BinaryConv2d` and :class:`BinaryLinear`.

    ``binary_mix`` (float in [0, 1], default 1) is set by the progressive-binarisation hook:
    the layer uses ``lam * q(t) + (1 - lam) * t`` for activations and weights and the scale
    ``lam * s + (1 - lam)``, so 0 is the real layer and 1 the binary one.
    """

    _spatial = 2

    def _build_parts(self, act_quantizer, weight_quantizer, scale, scale_shape, scale_init,
                     out_size, latent, post_act) -> None:
        self.act_quantizer = build_quantizer(act_quantizer)
        self.weight_quantizer = build_quantizer(weight_quantizer)
        if self.weight_quantizer is None:
            raise ValueError('weight_quantizer cannot be None (use dict(type="Identity") for a '
                             'real-valued weight)')
        self.scaling = build_scaling(scale, self.out_channels_, scale_shape, out_size,
                                     scale_init, self._spatial)
        self.post_act = build_post_activation(post_act, self.out_channels_)
        self.binary_mix = 1.0
        self.latent = None
        if latent is not None:
            weight = self._parameters.pop('weight').data
            self.latent = build_latent(latent, tuple(weight.shape))
            self.latent.init_like(weight)
        if isinstance(self.scaling, LearnedScale):
            self.scaling.reset(self.real_weight())

    # ----- weight access -------------------------------------------------------------------
    def __getattr__(self, name: str):
        if name == 'weight':
            modules = self.__dict__.get('_modules', {})
            if modules.get('latent') is not None:
                return modules['latent']()
        return super().__getattr__(name)

    def real_weight(self) -> Tensor:
        """The real (latent) weight ``W`` (O, C/groups, kh, kw), differentiable."""
        return self.latent() if self.latent is not None else self._parameters['weight']

    def binary_weight(self) -> Tensor:
        """``sign(W)`` in {-1, +1} (float tensor, same shape as W), no gradient; the weight
        quantiser's ``hard_sign`` when it has one (e.g. mean-centred before the sign)."""
        with torch.no_grad():
            hard_sign = getattr(self.weight_quantizer, 'hard_sign', sign_bit)
            return hard_sign(self.real_weight())

    @property
    def is_binary(self) -> bool:
        """True when both activations and weights are binarised and ``binary_mix == 1``."""
        return (self.binary_mix >= 1.0 and self.act_quantizer is not None
                and getattr(self.act_quantizer, 'binary', True)
                and getattr(self.weight_quantizer, 'binary', True))

    # ----- the forward parts ---------------------------------------------------------------
    def _mix(self, q: Optional[nn.Module], t: Tensor) -> Tensor:
        lam = self.binary_mix
        if q is None or lam <= 0.0:
            return t
        if lam >= 1.0:
            return q(t)
        return torch.lerp(t, q(t), lam)

    def _scale(self, weight: Optional[Tensor],
               out_size: Optional[Tuple[int, int]]) -> Optional[Tensor]:
        s = self.scaling(weight, out_size)
        if s is None or self.binary_mix >= 1.0:
            return s
        return s * self.binary_mix + (1.0 - self.binary_mix)

    def output_scale(self, out_size: Optional[Tuple[int, int]] = None) -> Optional[Tensor]:
        """The fused output scale ``s`` for inference: (O, 1, 1) or (O, H_out, W_out) for conv,
        (O, ) for linear, or ``None`` (no scaling). Excludes the input-dependent ``K``."""
        with torch.no_grad():
            return self._scale(self.real_weight(), out_size)

    def materialize(self) -> 'nn.Module':
        """Drop the latent factors and the real weight: keep ``sign(W)`` as the weight and the
        output scale as a frozen buffer. The forward is unchanged. Returns ``self``."""
        if self.binary_mix < 1.0:
            raise ValueError(f'materialize() needs binary_mix == 1, got {self.binary_mix}')
        if isinstance(self.scaling, LearnedScale) and not self.scaling.resolved:
            raise ValueError(f'scale_shape {self.scaling.shape!r} is not resolved yet; run a '
                             f'forward or pass out_size before materialize()')
        scale = self.output_scale()
        sign = self.binary_weight()
        self.latent = None
        self._parameters['weight'] = nn.Parameter(sign)
        if getattr(self.weight_quantizer, 'center', None) is not None:
            self.weight_quantizer.center = None  # sign is already of the centred weight
        self.scaling = NoScale() if scale is None else FixedScale(scale)
        return self

    def export(self) -> dict:
        """Inference tensors: ``weight_sign`` (int8 in {-1, +1}), ``scale`` (as
        :meth:`output_scale`), ``bias``, ``act_scale`` flag, geometry, ``binary_acts``."""
        if self.binary_mix < 1.0:
            raise ValueError(f'export() needs binary_mix == 1, got {self.binary_mix}')
        out = dict(
            weight_sign=self.binary_weight().to(torch.int8),
            scale=self.output_scale(),
            bias=None if self.bias is None else self.bias.detach().clone(),
            binary_acts=self.act_quantizer is not None
            and getattr(self.act_quantizer, 'binary', True),
            act_scale=getattr(self, 'act_scale', False),
            post_act=self.post_act)
        out.update(self._geometry())
        return out

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # a materialized checkpoint (weight + scaling.scale) loads into a fresh layer
        if self.latent is not None and prefix + 'weight' in state_dict:
            self.latent = None
            self._parameters['weight'] = nn.Parameter(torch.empty_like(state_dict[prefix +
                                                                                  'weight']))
        if prefix + 'scaling.scale' in state_dict and not isinstance(self.scaling, FixedScale):
            self.scaling = FixedScale(state_dict[prefix + 'scaling.scale'])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


@MODELS.register_module()
class BinaryConv2d(_BinaryMixin, nn.Conv2d):
    """Binary 2-D convolution ("XNOR-Net++", Bulat & Tzimiropoulos, BMVC 2019).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode: as :class:`torch.nn.Conv2d`.
        act_quantizer: quantiser of the input, ``dict(type='SignSTE')`` (default),
            ``'ApproxSign'``, ``'Identity'``, or ``None`` for real activations.
        weight_quantizer: quantiser of the weight (default ``dict(type='SignSTE')``).
        scale: ``'none'``, ``'xnor'`` (mean |W| per output channel) or ``'learned'``.
        scale_shape: for ``learned``: ``'channel'``, ``'chw'`` or ``'rank1'``.
        scale_init: ``'ones'``, ``'xnor'`` or a number.
        out_size: (H_out, W_out) for ``chw``/``rank1``; ``None`` resolves on first forward.
        act_scale: multiply by XNOR-Net's activation factor K (input dependent).
        latent: ``None`` or ``dict(type='SVD'|'Tucker'|'CP', rank=...)``: the real weight is
            the reconstruction of these factors (initialised from the default weight).
        post_act: ``None`` or an activation config applied last (``ChannelPReLU`` ...).

    Shape: (N, C, H, W) -> (N, O, H_out, W_out).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, Tuple[int, int]],
                 stride: Union[int, Tuple[int, int]] = 1,
                 padding: Union[int, Tuple[int, int], str] = 0,
                 dilation: Union[int, Tuple[int, int]] = 1,
                 groups: int = 1,
                 bias: bool = True,
                 padding_mode: str = 'zeros',
                 act_quantizer: Optional[dict] = _DEFAULT_Q,
                 weight_quantizer: dict = _DEFAULT_Q,
                 scale: str = 'learned',
                 scale_shape: str = 'channel',
                 scale_init: Union[str, float] = 'ones',
                 out_size: Optional[Sequence[int]] = None,
                 act_scale: bool = False,
                 latent: Optional[dict] = None,
                 post_act: Optional[dict] = None,
                 device=None,
                 dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.out_channels_ = out_channels
        self.act_scale = bool(act_scale)
        self._build_parts(act_quantizer, weight_quantizer, scale, scale_shape, scale_init,
                          out_size, latent, post_act)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, **options) -> 'BinaryConv2d':
        """A binary layer with ``conv``'s geometry, weight (decomposed if latent) and bias."""
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                    conv.padding, conv.dilation, conv.groups, conv.bias is not None,
                    conv.padding_mode, **options)
        layer.to(device=conv.weight.device, dtype=conv.weight.dtype)
        layer.load_real_weight(conv.weight, conv.bias)
        return layer

    @torch.no_grad()
    def load_real_weight(self, weight: Tensor, bias: Optional[Tensor] = None) -> None:
        """Set W (decomposing it into the latent factors if any) and the bias; re-initialise a
        learned scale from ``scale_init``."""
        if self.latent is not None:
            self.latent.from_weight(weight)
        else:
            self._parameters['weight'].copy_(weight)
        if bias is not None and self.bias is not None:
            self.bias.copy_(bias)
        if isinstance(self.scaling, LearnedScale):
            self.scaling.reset(weight)

    def _geometry(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation,
                    groups=self.groups, padding_mode=self.padding_mode)

    #: training computes sign + conv as one autograd node where the activation quantiser
    #: allows it (:class:`_SignConv2d`; same values); False forces the two-node form
    fuse_sign: bool = True
    #: on CPU float32 tensors the elementwise training passes (sign + straight-through mask,
    #: spatial output scale forward and backward) run as C++ passes
    #: (:mod:`plugins.binary.train_ops`; same values); False forces the torch ops
    native_ops: bool = True
    #: on CPU float32 tensors the fused training forward convolves with oneDNN's exact int8
    #: convolution (:mod:`plugins.binary.int8_conv`; the eval order of rounding, several times
    #: faster than float where the CPU has int8 dot products); False forces ``F.conv2d``
    int8_forward: bool = True

    def _fused_ste(self, device_type: str = 'cpu') -> Optional[Tuple[Optional[float], bool]]:
        """``(clip, save_mask)`` if the activation sign can be fused into the conv, else None
        (not under autocast: the casts inside a custom function are not recorded)."""
        if (not self.fuse_sign or self.binary_mix < 1.0 or self.act_quantizer is None
                or self.padding_mode != 'zeros' or isinstance(self.padding, str)
                or torch.is_autocast_enabled(device_type)):
            return None
        fused = getattr(self.act_quantizer, 'fused_ste', None)
        return None if fused is None else fused()

    def _int8(self, x: Tensor) -> bool:
        """Whether the fused training forward may use the exact int8 convolution
        (:mod:`plugins.binary.int8_conv`): enabled, CPU float32, binary weights."""
        return (self.int8_forward and x.device.type == 'cpu' and x.dtype == torch.float32
                and self.binary_mix >= 1.0
                and getattr(self.weight_quantizer, 'binary', False) is True
                and int8_conv_available())

    def _binary_conv(self, x: Tensor, xq: Optional[Tensor],
                     ste: Optional[Tuple[Optional[float], bool]], wq: Tensor,
                     bias: Optional[Tensor], spatial: Optional[Tensor] = None,
                     channel: Optional[Tensor] = None) -> Tensor:
        """``conv(xq, wq * channel) * spatial + bias`` (no factor where it is None), or with
        ``xq=None`` the fused ``conv(sign(x), wq * channel) * spatial + bias``."""
        int8 = (wq, channel) if xq is None and self._int8(x) else None
        if channel is not None:
            wq = wq * channel.view(-1, 1, 1, 1)
        if xq is None:
            return _SignConv2d.apply(x, wq, bias, ste[0], ste[1], self.stride, self.padding,
                                     self.dilation, self.groups, spatial, self.native_ops,
                                     int8)
        if spatial is None:
            return self._conv_forward(xq, wq, bias)
        y = self._conv_forward(xq, wq, None)
        return _ScaleOutput.apply(y, spatial, bias, self.native_ops)  # one pass: b + y * s

    def _out_size(self, x: Tensor) -> Tuple[int, int]:
        """(H_out, W_out) of this layer's convolution of ``x`` (N, C, H, W)."""
        if self.padding == 'same':
            return tuple(x.shape[-2:])
        padding = (0, 0) if self.padding == 'valid' else self.padding
        return tuple((x.shape[i - 2] + 2 * padding[i] - self.dilation[i] *
                      (self.kernel_size[i] - 1) - 1) // self.stride[i] + 1 for i in range(2))

    def _scale_factors(self, w: Tensor, out_size: Tuple[int, int]
                       ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """The training output scale as ``(channel (O, ), spatial)`` (see
        :meth:`LearnedScale.factors`): the channel factor is folded into the weights, only the
        spatial one multiplies the output."""
        if isinstance(self.scaling, LearnedScale) and self.binary_mix >= 1.0:
            return self.scaling.factors(w, out_size)
        s = self._scale(w, out_size)
        if s is None:
            return None, None
        if s.shape[1:] == (1, 1):
            return s.view(-1), None
        return None, s

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, O, H_out, W_out); see the module docstring for the order.

        Training folds the per-channel factor of the scale (``xnor``, ``channel``, and the
        ``alpha`` of ``rank1``/``channel_spatial``) into the weights and multiplies the output
        by the spatial factor only (:meth:`_scale_factors`); eval multiplies the exact integer
        convolution by the whole scale (:meth:`_eval_forward`)."""
        if not self.training:
            xq = self._mix(self.act_quantizer, x)
            w = self.real_weight()
            return self._eval_forward(x, xq, w, self._mix(self.weight_quantizer, w))
        ste = self._fused_ste(x.device.type)
        xq = None if ste is not None else self._mix(self.act_quantizer, x)
        w = self.real_weight()
        wq = self._mix(self.weight_quantizer, w)
        if self.act_scale:
            y = self._binary_conv(x, xq, ste, wq, None)
            s = self._scale(w, tuple(y.shape[-2:]))
            if s is not None:
                y = y * s
            y = y * activation_factor(x, self.kernel_size, self.stride, self.padding,
                                      self.dilation)
            if self.bias is not None:
                y = y + self.bias.view(1, -1, 1, 1)
        else:
            channel, spatial = self._scale_factors(w, self._out_size(x))
            y = self._binary_conv(x, xq, ste, wq, self.bias, spatial, channel)
        if self.post_act is not None:
            y = self.post_act(y)
        return y

    def _eval_forward(self, x: Tensor, xq: Tensor, w: Tensor, wq: Tensor) -> Tensor:
        """Eval order ``((conv(xb, wb) * s) * K) + b``: the convolution of +-1 values is an
        exact integer in float32, then each factor is one rounding, the order the packed
        kernel uses, so an exported model reproduces this bit for bit (training folds a
        per-channel ``s`` into the weights instead, which is faster but rounds differently:
        an exact 0 can come out as +-1e-8 and flip the next layer's sign)."""
        y = self._conv_forward(xq, wq, None)
        s = self._scale(w, tuple(y.shape[-2:]))
        if s is not None:
            y = y * s
        if self.act_scale:
            y = y * activation_factor(x, self.kernel_size, self.stride, self.padding,
                                      self.dilation)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        if self.post_act is not None:
            y = self.post_act(y)
        return y

    def cost(self, inputs: tuple, output: Tensor):
        """Complexity of one forward (see ``plugins.analysis``): ``O*H_out*W_out*C/g*kh*kw``
        BOPs (FLOPs if activations or weights are real, or ``binary_mix < 1``), one FLOP per
        output element for each scaling, binary weight bits, real scale/bias/post-act params."""
        from plugins.analysis.cost import LayerCost
        macs = output.numel() * (self.in_channels // self.groups) * math.prod(self.kernel_size)
        return _binary_cost(self, macs, output, inputs[0], LayerCost)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.act_scale:
            s += ', act_scale=True'
        return s


@MODELS.register_module()
class BinaryLinear(_BinaryMixin, nn.Linear):
    """Binary fully connected layer (same parts as :class:`BinaryConv2d`).

    Args:
        in_features, out_features, bias: as :class:`torch.nn.Linear`.
        act_quantizer, weight_quantizer, scale, scale_init, latent, post_act: as
            :class:`BinaryConv2d`; ``scale_shape`` must be ``'channel'``.

    Shape: (..., in_features) -> (..., out_features).
    """

    _spatial = 0

    def __init__(self,
                 in_features: int,
                 out_features: int,
                 bias: bool = True,
                 act_quantizer: Optional[dict] = _DEFAULT_Q,
                 weight_quantizer: dict = _DEFAULT_Q,
                 scale: str = 'learned',
                 scale_shape: str = 'channel',
                 scale_init: Union[str, float] = 'ones',
                 latent: Optional[dict] = None,
                 post_act: Optional[dict] = None,
                 device=None,
                 dtype=None) -> None:
        super().__init__(in_features, out_features, bias, device, dtype)
        self.out_channels_ = out_features
        self.act_scale = False
        self._build_parts(act_quantizer, weight_quantizer, scale, scale_shape, scale_init, None,
                          latent, post_act)

    @classmethod
    def from_linear(cls, linear: nn.Linear, **options) -> 'BinaryLinear':
        """A binary layer with ``linear``'s weight (decomposed if latent) and bias."""
        options.pop('out_size', None)
        options.pop('act_scale', None)
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, **options)
        layer.to(device=linear.weight.device, dtype=linear.weight.dtype)
        layer.load_real_weight(linear.weight, linear.bias)
        return layer

    load_real_weight = BinaryConv2d.load_real_weight

    def _geometry(self) -> dict:
        return {}

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_features) -> (..., out_features)."""
        xq = self._mix(self.act_quantizer, x)
        w = self.real_weight()
        wq = self._mix(self.weight_quantizer, w)
        s = self._scale(w, None)
        if not self.training:  # exact integer, then scale and bias (see BinaryConv2d)
            y = F.linear(xq, wq)
            if s is not None:
                y = y * s.view(-1)
            if self.bias is not None:
                y = y + self.bias
        else:
            if s is not None:
                wq = wq * s.view(-1, 1)
            y = F.linear(xq, wq, self.bias)
        if self.post_act is not None:
            y = self.post_act(y)
        return y

    def cost(self, inputs: tuple, output: Tensor):
        """``out_elements * in_features`` BOPs (see :meth:`BinaryConv2d.cost`)."""
        from plugins.analysis.cost import LayerCost
        return _binary_cost(self, output.numel() * self.in_features, output, inputs[0],
                            LayerCost)


def _binary_cost(layer: _BinaryMixin, macs: int, output: Tensor, x: Tensor, LayerCost):
    """Shared cost rule of binary layers (the deployed form: sign weights, fused scales)."""
    binary = layer.is_binary
    flops, bops = (0, macs) if binary else (macs, 0)
    weight_numel = math.prod(layer.real_weight().shape)
    real = 0 if layer.bias is None else layer.bias.numel()
    if not isinstance(layer.scaling, NoScale):
        flops += output.numel()
        if isinstance(layer.scaling, LearnedScale):
            real += layer.scaling.num_params()
        elif isinstance(layer.scaling, FixedScale):
            s = layer.scaling.scale
            real += s.numel() if s.dim() == 1 or s.shape[1:] != (1, 1) else s.shape[0]
        else:
            real += layer.out_channels_
    if layer.act_scale:  # K: mean_c |x|, a k x k box filter per output position, y * K
        positions = output.numel() // layer.out_channels_
        flops += x.numel() + positions * math.prod(layer.kernel_size) + output.numel()
    if layer.post_act is not None:
        real += sum(p.numel() for p in layer.post_act.parameters())
    if binary or getattr(layer.weight_quantizer, 'binary', True):
        return LayerCost(flops, bops, real, weight_numel)
    return LayerCost(flops, bops, real + weight_numel, 0)
