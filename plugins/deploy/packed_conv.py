"""The inference-only binary convolution on bit-packed weights (XNOR + popcount).

``PackedBinaryConv2d`` computes exactly what a trained ``BinaryConv2d`` computes in eval mode
(see docs/binary.md and docs/deploy.md)::

    y = conv(pad(sign(x), pad_value), sign(W)) * s * K + b

with ``sign`` the sign bit (``-0.0`` is ``-1``), ``pad_value`` 0 (zero padding of the signs,
a third value the kernel corrects for), +1 or -1, ``s`` the fused output scale ((O, 1, 1) or
(O, H_out, W_out), or none), ``K`` XNOR-Net's activation factor when ``act_scale`` is set, and
``b`` the bias. It holds no latent weight, quantiser or scaling module: only the packed words,
the scale and the bias.
"""
from __future__ import annotations

import ctypes
import operator
import os
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .build import load_library
from .kernel_plan import KernelPlan, conv_out_size, conv_plan_args
from .norm_terms import batchnorm_terms
from .packing import kernel_layout, num_words, pack_signs, tap_popcounts, unpack_signs

PAD_VALUES = (0, 1, -1)
BACKENDS = ('kernel', 'torch')


def _pair(v) -> Tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


_DEFAULT_ISA: Optional[int] = None


def _f32(t: Tensor) -> Tensor:
    return t if t.dtype == torch.float32 and t.is_contiguous() else \
        t.detach().float().contiguous()


def _isa(isa: Optional[int]) -> int:
    """The explicit ``isa``, else ``$PLUGINS_DEPLOY_ISA``, else the widest the CPU has (the
    default is resolved once per process)."""
    global _DEFAULT_ISA
    if isa is not None:
        return int(isa)
    if _DEFAULT_ISA is None:
        forced = os.environ.get('PLUGINS_DEPLOY_ISA')
        _DEFAULT_ISA = int(forced) if forced is not None else load_library().bnn_best_isa()
    return _DEFAULT_ISA


def activation_factor(x: Tensor, kernel_size, stride, padding, dilation) -> Tensor:
    """XNOR-Net's activation factor ``K``: mean over channels of ``|x|``, box-filtered over each
    receptive field (zero padded). (N, C, H, W) -> (N, 1, H_out, W_out)."""
    a = x.abs().mean(1, keepdim=True)
    kh, kw = _pair(kernel_size)
    k = a.new_full((1, 1, kh, kw), 1.0 / (kh * kw))
    return F.conv2d(a, k, stride=stride, padding=padding, dilation=dilation)


def xnor_conv2d(x: Tensor,
                wt: Tensor,
                tap_pop: Tensor,
                out_channels: int,
                kernel_size: Tuple[int, int],
                stride=1,
                padding=0,
                dilation=1,
                groups: int = 1,
                pad_value: int = 0,
                scale: Optional[Tensor] = None,
                bias: Optional[Tensor] = None,
                isa: Optional[int] = None,
                threads: Optional[int] = None,
                in_channels: Optional[int] = None) -> Tensor:
    """``conv(pad(sign(x)), sign(W)) * scale + bias`` with the compiled XNOR-popcount kernel.

    Args:
        x: (N, C, H, W) real input (any float dtype; computed in float32).
        wt: weights in :func:`plugins.deploy.packing.kernel_layout`.
        tap_pop: (O, KH*KW) int32 from :func:`plugins.deploy.packing.tap_popcounts`.
        out_channels, kernel_size, stride, padding, dilation, groups: as ``nn.Conv2d``.
        pad_value: value of the padded signs: 0, +1 or -1.
        scale: (O, ) per-output-channel factor or None.
        bias: (O, ) or None (added after the scale).
        isa: 3 AVX-512 VPOPCNTDQ, 2 AVX2, 1 POPCNT, 0 portable; None picks the widest the CPU
            has (or ``$PLUGINS_DEPLOY_ISA``).
        threads: OpenMP threads; None uses ``torch.get_num_threads()``.
        in_channels: the C the weight was packed for (checked when given).

    Returns:
        (N, O, H_out, W_out) float32.
    """
    if pad_value not in PAD_VALUES:
        raise ValueError(f'pad_value {pad_value!r} not allowed; allowed: {list(PAD_VALUES)}')
    if x.dim() != 4:
        raise ValueError(f'expected a (N, C, H, W) input, got shape {tuple(x.shape)}')
    if x.device.type != 'cpu':
        raise ValueError(f'the packed kernel runs on the CPU; got an input on {x.device}')
    lib = load_library()
    x = x.detach().to(torch.float32).contiguous()
    n, c, h, w = x.shape
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    oh, ow = conv_out_size(h, w, (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    if oh <= 0 or ow <= 0:
        raise ValueError(f'input {tuple(x.shape)} is too small for kernel {(kh, kw)}, '
                         f'padding {(ph, pw)}, dilation {(dh, dw)}')
    if (in_channels is not None and c != in_channels) or c % groups or wt.dim() != 4 or wt.shape[0] != groups or \
            wt.shape[2] != num_words(c // groups * kh * kw) or \
            tuple(tap_pop.shape) != (out_channels, kh * kw):
        raise ValueError(f'input with {c} channels does not fit the packed weight '
                         f'{tuple(wt.shape)} (groups {groups}, kernel {(kh, kw)}, '
                         f'{out_channels} outputs)')
    if wt.dtype != torch.int64 or tap_pop.dtype != torch.int32 or not wt.is_contiguous() or \
            not tap_pop.is_contiguous():
        raise ValueError('wt must be contiguous int64 and tap_pop contiguous int32')
    out = torch.empty(n, out_channels, oh, ow)
    sc = None if scale is None else scale.detach().to(torch.float32).reshape(-1).contiguous()
    bs = None if bias is None else bias.detach().to(torch.float32).reshape(-1).contiguous()
    for name, t in (('scale', sc), ('bias', bs)):
        if t is not None and t.numel() != out_channels:
            raise ValueError(f'{name} has {t.numel()} values, expected {out_channels}')
    ptr = lambda t: None if t is None else ctypes.c_void_p(t.data_ptr())  # noqa: E731
    rc = lib.bnn_conv2d(ptr(x), n, c, h, w, ptr(wt), ptr(tap_pop), out_channels, groups, kh, kw, sh,
                        sw, ph, pw, dh, dw, int(pad_value), ptr(sc), ptr(bs), ptr(out), oh, ow,
                        int(threads or torch.get_num_threads()), _isa(isa), None, None)
    if rc != 0:
        raise ValueError(f'bnn_conv2d rejected its arguments (code {rc}): C={c}, O={out_channels}'
                         f', groups={groups}, kernel={(kh, kw)}, pad_value={pad_value}, isa={isa}')
    return out


class PackedBinaryConv2d(nn.Module):
    """Inference binary convolution on 1-bit packed weights (no training code paths).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups: as
            ``nn.Conv2d``.
        pad_value: value that pads ``sign(x)``: 0 (zeros), +1 or -1.
        scale_kind: ``'none'``, ``'channel'`` ((O, 1, 1) scale) or ``'spatial'``
            ((O, H_out, W_out) scale, e.g. XNOR-Net++'s Gamma or a rank-1 product).
        act_scale: multiply by XNOR-Net's activation factor K.
        bias: has a bias.
        backend: ``'kernel'`` (compiled XNOR-popcount) or ``'torch'`` (unpacks the signs and
            runs ``F.conv2d``; slow, for machines without a compiler and for checking).
        input_norm: the layer reads the input of an eval-mode BatchNorm that was folded into
            it (:meth:`fold_input_norm`): the packed bits are ``sign(x * in_alpha + in_beta)``,
            computed while packing, so the BatchNorm never writes a float tensor.

    Buffers: ``weight_bits`` (O, ceil(Cg*KH*KW/64)) int64 (see
    :mod:`plugins.deploy.packing`), ``scale`` (O, 1, 1) / (O, H_out, W_out) when used,
    ``bias`` (O, ) when used, ``in_alpha``/``in_beta`` (C, ) with ``input_norm``.

    Shape: (N, C, H, W) -> (N, O, H_out, W_out) float32.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size,
                 stride=1,
                 padding=0,
                 dilation=1,
                 groups: int = 1,
                 pad_value: int = 0,
                 scale_kind: str = 'none',
                 act_scale: bool = False,
                 bias: bool = False,
                 backend: str = 'kernel',
                 input_norm: bool = False) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f'in_channels {in_channels} and out_channels {out_channels} must be '
                             f'divisible by groups {groups}')
        if pad_value not in PAD_VALUES:
            raise ValueError(f'pad_value {pad_value!r} not allowed; allowed: {list(PAD_VALUES)}')
        if scale_kind not in ('none', 'channel', 'spatial'):
            raise ValueError(f"scale_kind {scale_kind!r} not allowed; allowed: "
                             f"['none', 'channel', 'spatial']")
        if backend not in BACKENDS:
            raise ValueError(f'backend {backend!r} not allowed; allowed: {list(BACKENDS)}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        if pad_value == 0 and self.kernel_size[0] * self.kernel_size[1] > 64:
            raise ValueError(f'zero padding supports at most 64 taps, got kernel '
                             f'{self.kernel_size}')
        self.groups, self.pad_value = groups, pad_value
        self.scale_kind, self.act_scale, self.backend = scale_kind, act_scale, backend
        k = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        self.register_buffer('weight_bits',
                             torch.zeros(out_channels, num_words(k), dtype=torch.int64))
        self.register_buffer('scale',
                             torch.ones(out_channels, 1, 1) if scale_kind != 'none' else None)
        self.register_buffer('bias', torch.zeros(out_channels) if bias else None)
        self.register_buffer('in_alpha', torch.ones(in_channels) if input_norm else None)
        self.register_buffer('in_beta', torch.zeros(in_channels) if input_norm else None)
        self.folded_norm: Optional[str] = None  # name of the BatchNorm folded into the input
        self._cache_key = None
        self._wt = self._tap_pop = None

    @property
    def weight_shape(self) -> Tuple[int, int, int, int]:
        return (self.out_channels, self.in_channels // self.groups) + self.kernel_size

    @classmethod
    def from_signs(cls, signs: Tensor, scale: Optional[Tensor] = None,
                   bias: Optional[Tensor] = None, act_scale: bool = False, **conv) -> \
            'PackedBinaryConv2d':
        """Build from the sign weight (O, Cg, KH, KW), an output scale ((O,), (O, 1, 1) or
        (O, H_out, W_out)) and a bias; ``conv`` holds stride, padding, dilation, groups,
        pad_value, backend."""
        o, cg, kh, kw = signs.shape
        groups = conv.get('groups', 1)
        kind = 'none'
        if scale is not None:
            scale = scale.detach().float()
            if scale.dim() == 1:
                scale = scale.view(-1, 1, 1)
            if scale.dim() != 3 or scale.shape[0] != o:
                raise ValueError(f'scale of shape {tuple(scale.shape)} does not broadcast as an '
                                 f'output scale of {o} channels; allowed: (O,), (O,1,1), (O,H,W)')
            kind = 'channel' if scale.shape[1:] == (1, 1) else 'spatial'
        layer = cls(cg * groups,
                    o, (kh, kw),
                    bias=bias is not None,
                    scale_kind=kind,
                    act_scale=act_scale,
                    **conv)
        layer.weight_bits.copy_(pack_signs(signs))
        if scale is not None:
            layer.scale = scale.clone()
        if bias is not None:
            layer.bias.copy_(bias.detach().float())
        return layer

    @property
    def input_norm(self) -> bool:
        return self.in_alpha is not None

    @torch.no_grad()
    def fold_input_norm(self, norm: nn.modules.batchnorm._BatchNorm) -> None:
        """Fold an eval-mode BatchNorm that feeds only this layer into its sign packing.

        ``alpha`` and ``beta`` as torch's CPU BatchNorm rounds them
        (:func:`plugins.deploy.norm_terms.batchnorm_terms`); the kernel packs the sign of
        ``fma(x, alpha, beta)``, torch's one rounding, so the sign bits equal those of
        ``norm(x)`` bit for bit, also within an ulp of zero (tested).
        """
        if norm.running_mean is None or norm.running_var is None:
            raise ValueError('only a BatchNorm with running statistics can be folded')
        if self.act_scale:
            raise ValueError('act_scale reads |norm(x)|: the norm cannot be folded')
        if norm.num_features != self.in_channels:
            raise ValueError(f'norm over {norm.num_features} channels, the layer reads '
                             f'{self.in_channels}')
        alpha, beta = batchnorm_terms(norm)
        self.in_alpha = alpha.contiguous().clone()
        self.in_beta = beta.contiguous().clone()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # a spatial scale (O, H_out, W_out) is rebuilt from a layer table as (O, 1, 1)
        key = prefix + 'scale'
        if self.scale is not None and key in state_dict and \
                state_dict[key].shape != self.scale.shape:
            self.scale = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def constructor_args(self) -> dict:
        """The keyword arguments that rebuild this layer (JSON-serialisable; buffers are
        loaded afterwards)."""
        return dict(in_channels=self.in_channels, out_channels=self.out_channels,
                    kernel_size=list(self.kernel_size), stride=list(self.stride),
                    padding=list(self.padding), dilation=list(self.dilation),
                    groups=self.groups, pad_value=self.pad_value, scale_kind=self.scale_kind,
                    act_scale=self.act_scale, bias=self.bias is not None,
                    input_norm=self.input_norm)

    def signs(self) -> Tensor:
        """The unpacked sign weight (O, Cg, KH, KW) of +1/-1."""
        return unpack_signs(self.weight_bits, self.weight_shape)

    def _kernel_buffers(self) -> Tuple[Tensor, Tensor]:
        key = (self.weight_bits.data_ptr(), self.weight_bits._version)
        if self._cache_key != key:
            self._wt = kernel_layout(self.weight_bits, self.groups)
            self._tap_pop = tap_popcounts(self.weight_bits, self.weight_shape)
            self._cache_key = key
        return self._wt, self._tap_pop

    def _kernel_forward(self, x: Tensor, fuse: bool) -> Tensor:
        """The common case without argument checks (the geometry was checked at build time):
        one ctypes call. Falls back to :func:`xnor_conv2d` for unusual inputs."""
        if x.dtype != torch.float32 or x.dim() != 4 or x.device.type != 'cpu' or \
                x.shape[1] != self.in_channels:
            x = self._apply_input_norm(x.float())
            return xnor_conv2d(x,
                               *self._kernel_buffers(),
                               self.out_channels,
                               self.kernel_size,
                               self.stride,
                               self.padding,
                               self.dilation,
                               self.groups,
                               self.pad_value,
                               scale=self.scale if fuse and self.scale is not None else None,
                               bias=self.bias if fuse else None,
                               in_channels=self.in_channels)
        plan = self._plan(x, fuse)
        if not x.is_contiguous():
            x = x.contiguous()
        out = torch.empty(*plan.out_shape)
        rc = plan.run(x.data_ptr(), None, out.data_ptr(), None, None)
        if rc != 0:
            raise ValueError(f'bnn_conv2d_run rejected its arguments (code {rc}) for {self}')
        return out

    def _cached_plan(self, x: Tensor, fuse: bool) -> Optional[KernelPlan]:
        """The cached plan if it was built for ``x``'s shape, ``fuse``, this thread count and
        the current buffers (the same tensors, not edited in place since), else None."""
        c = self.__dict__.get('_call_plan')
        if c is not None and x.shape == c[0] and fuse is c[1] and \
                torch.get_num_threads() == c[2] and \
                all(map(operator.is_, self._buffers.values(), c[3])) and \
                [t._version for t in c[4]] == c[5]:
            return c[6]
        return None

    def _plan(self, x: Tensor, fuse: bool) -> KernelPlan:
        """The kernel plan of this layer for an input of ``x``'s shape, cached: a call then
        costs one ``torch.empty`` and one foreign call of six arguments (the Python overhead
        matters at 4x4-8x8, where the kernel itself runs in microseconds). The cache holds the
        identity and version of every buffer the plan points into, so replacing or editing
        one rebuilds it."""
        plan = self._cached_plan(x, fuse)
        if plan is not None:
            return plan
        wt, tp = self._kernel_buffers()
        sc = _f32(self.scale) if fuse and self.scale is not None else None
        bs = _f32(self.bias) if fuse and self.bias is not None else None
        ia = None if self.in_alpha is None else _f32(self.in_alpha)
        ib = None if self.in_beta is None else _f32(self.in_beta)
        oh, ow = conv_out_size(x.shape[2], x.shape[3], self.kernel_size, self.stride,
                               self.padding, self.dilation)
        if oh <= 0 or ow <= 0:
            raise ValueError(f'input {tuple(x.shape)} is too small for kernel '
                             f'{self.kernel_size}, padding {self.padding}, dilation '
                             f'{self.dilation}')
        plan = KernelPlan(**conv_plan_args(self, tuple(x.shape), torch.get_num_threads(),
                                           _isa(None), wt, tp, sc, bs, ia, ib))
        bufs = tuple(self._buffers.values())
        held = tuple(t for t in bufs if t is not None)
        self.__dict__['_call_plan'] = (x.shape, fuse, torch.get_num_threads(), bufs, held,
                                       [t._version for t in held], plan)
        return plan

    def _apply_input_norm(self, x: Tensor) -> Tensor:
        if self.in_alpha is None:
            return x
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'expected a (N, {self.in_channels}, H, W) input, got '
                             f'{tuple(x.shape)}')
        # only the sign is used: x * alpha is exact in float64 and the sum rounds once, so its
        # sign (and zero) is that of the exact value, as for the kernel's fmaf
        return (x.double() * self.in_alpha.double().view(1, -1, 1, 1) +
                self.in_beta.double().view(1, -1, 1, 1)).float()

    def _torch_forward(self, x: Tensor) -> Tensor:
        x = self._apply_input_norm(x.float())
        from ..binary.quantizers import sign_bit  # (the training sign; exact, -0 -> -1)
        xs = sign_bit(x)
        ph, pw = self.padding
        xs = F.pad(xs, (pw, pw, ph, ph), value=float(self.pad_value))
        return F.conv2d(xs, self.signs(), None, self.stride, 0, self.dilation, self.groups)

    def forward(self, x: Tensor) -> Tensor:
        # the common case, a repeated call of the kernel path with everything fused: the cached
        # plan used directly (at 4x4 the kernel takes ~12 us, so each Python call counts)
        if self.backend == 'kernel' and not self.act_scale and self.scale_kind != 'spatial' and \
                x.dtype is torch.float32 and x.is_cpu and x.is_contiguous():
            plan = self._cached_plan(x, True)
            if plan is not None:
                out = torch.empty(*plan.out_shape)  # (ints: ~1 us faster than a tuple, cold)
                if plan.run(x.data_ptr(), None, out.data_ptr(), None, None) == 0:
                    return out
        if self.backend == 'kernel' and self.scale_kind != 'spatial' and not self.act_scale:
            return self._kernel_forward(x, True)  # everything in the kernel
        channel = self.scale if self.scale_kind == 'channel' else None
        fuse = not self.act_scale and self.scale_kind != 'spatial'
        if self.backend == 'kernel':
            y = self._kernel_forward(x, fuse)
        else:
            y = self._torch_forward(x)
            if fuse and channel is not None:
                y = y * channel
            if fuse and self.bias is not None:
                y = y + self.bias.view(1, -1, 1, 1)
        if not fuse:
            if self.scale is not None:
                if self.scale_kind == 'spatial' and tuple(self.scale.shape[1:]) != y.shape[2:]:
                    raise ValueError(f'this layer has an output scale of spatial size '
                                     f'{tuple(self.scale.shape[1:])}, but the output is '
                                     f'{tuple(y.shape[2:])}')
                y = y * self.scale
            if self.act_scale:
                y = y * activation_factor(x.float(), self.kernel_size, self.stride, self.padding,
                                          self.dilation)
            if self.bias is not None:
                y = y + self.bias.view(1, -1, 1, 1)
        return y

    def cost(self, inputs: tuple, output: Tensor):
        """Complexity of one forward (``plugins.analysis`` protocol): ``O*H_out*W_out*Cg*KH*KW``
        BOPs, one FLOP per output element for the scale, ``K`` and the bias each; the packed
        weight bits are binary parameters, scale and bias real ones."""
        from plugins.analysis.cost import LayerCost
        bops = output.numel() * (self.in_channels // self.groups) * \
            self.kernel_size[0] * self.kernel_size[1]
        flops = output.numel() * ((self.scale is not None) + self.act_scale +
                                  (self.bias is not None))
        if self.act_scale:
            flops += inputs[0].numel()
        real = sum(t.numel() for t in (self.scale, self.bias) if t is not None)
        return LayerCost(
            flops, bops, real,
            self.out_channels * self.weight_shape[1] * self.kernel_size[0] * self.kernel_size[1])

    def __getstate__(self) -> dict:
        state = super().__getstate__().copy()
        state.update(_cache_key=None, _wt=None, _tap_pop=None)  # derived at load time
        state.pop('_call_plan', None)
        return state

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
                f'stride={self.stride}, padding={self.padding}, dilation={self.dilation}, '
                f'groups={self.groups}, pad_value={self.pad_value}, scale={self.scale_kind}, '
                f'act_scale={self.act_scale}, bias={self.bias is not None}, '
                f'input_norm={self.input_norm}, backend={self.backend!r}')
