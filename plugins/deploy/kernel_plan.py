"""Kept plans of the XNOR kernel: a layer's geometry-dependent set-up built once.

``bnn_conv2d`` / ``bnn_conv2d_chain`` rebuild per call what depends only on the shapes and the
constant operands (the window classes of every output position, the padding table of the
weights, the gather's pieces, the code paths, the thread count) and take 27-38 ``ctypes``
arguments. At 4x4-8x8 that set-up and the argument conversion are a good part of a call. A
:class:`KernelPlan` builds it once (``bnn_conv2d_plan``); a call is then
``bnn_conv2d_run(plan, x, xpacked, out, next_packed, residual)``: six arguments.

The plan points into the tensors it was built from (weights, scales, norms, slopes); the
:class:`KernelPlan` keeps them alive, and its users key their caches by the identity and
version of those tensors, so an edited or replaced tensor builds a new plan. A copied or
pickled plan is rebuilt from its (copied) arguments.
"""
from __future__ import annotations

import ctypes
import functools
from typing import Optional

from torch import Tensor

from .build import load_library

# the arguments of bnn_conv2d_plan in order: (name, 'i' int / 'p' tensor or None)
_FIELDS = (('n', 'i'), ('c', 'i'), ('h', 'i'), ('w', 'i'), ('wt', 'p'), ('tap_pop', 'p'),
           ('out_channels', 'i'), ('groups', 'i'), ('kh', 'i'), ('kw', 'i'), ('sh', 'i'),
           ('sw', 'i'), ('ph', 'i'), ('pw', 'i'), ('dh', 'i'), ('dw', 'i'), ('pad_value', 'i'),
           ('scale', 'p'), ('bias', 'p'), ('oh', 'i'), ('ow', 'i'), ('threads', 'i'),
           ('isa', 'i'), ('in_alpha', 'p'), ('in_beta', 'p'), ('packed_input', 'i'),
           ('out_ctotal', 'i'), ('out_coff', 'i'), ('act_pos', 'p'), ('act_neg', 'p'),
           ('next_bits', 'i'), ('next_alpha', 'p'), ('next_beta', 'p'), ('residual', 'i'),
           ('post_alpha', 'p'), ('post_beta', 'p'), ('order', 'i'))


def _library() -> ctypes.CDLL:
    """The kernel library with the plan entry points' signatures declared."""
    lib = load_library()
    if not getattr(lib, 'plan_api_declared', False):
        P, I = ctypes.c_void_p, ctypes.c_int
        lib.bnn_conv2d_plan.argtypes = [P if kind == 'p' else I for _, kind in _FIELDS] + \
            [ctypes.POINTER(I)]
        lib.bnn_conv2d_plan.restype = P
        lib.bnn_conv2d_run.argtypes = [P] * 6
        lib.bnn_conv2d_run.restype = I
        lib.bnn_conv2d_plan_free.argtypes = [P]
        lib.bnn_conv2d_plan_free.restype = None
        lib.plan_api_declared = True
    return lib


_DEFAULTS = dict(groups=1, dh=1, dw=1, pad_value=0, scale=None, bias=None, in_alpha=None,
                 in_beta=None, packed_input=0, out_ctotal=0, out_coff=0, act_pos=None,
                 act_neg=None, next_bits=0, next_alpha=None, next_beta=None, residual=0,
                 post_alpha=None, post_beta=None, order=0)


class KernelPlan:
    """One layer's kernel call with everything but the per-call pointers fixed.

    Args (keywords, as ``bnn_conv2d_chain``'s; see plugins/deploy/csrc/xnor_conv.cpp):
        n, c, h, w: input shape (N, C, H, W); oh, ow: output size.
        wt: int64 kernel layout [G][OB][Kwords][32]; tap_pop: (O, KH*KW) int32.
        out_channels, groups, kh, kw, sh, sw, ph, pw, dh, dw, pad_value: the convolution.
        scale, bias: (O, ) float32 or None.
        threads, isa: OpenMP threads (capped by the work at each call) and code path.
        in_alpha, in_beta: (C, ) folded input BatchNorm or None.
        packed_input: the input comes packed, (N, H, W, ceil(C/64)) int64 words.
        out_ctotal, out_coff: the output has out_ctotal channels, this layer writes from
            out_coff (0, 0: exactly O channels).
        act_pos, act_neg: (O, ) post activation or None.
        next_bits: the call also packs the next layer's sign bits
            (N, OH, OW, ceil(O/64)) int64, of ``v * next_alpha + next_beta`` ((O, ) or None).
        residual: the call adds a residual of the output's layout.
        post_alpha, post_beta: (O, ) BatchNorm after the conv or None; order: 0 HPM, 1 Bi-Real.

    Every tensor must be contiguous float32 (int64 / int32 for wt / tap_pop) on the CPU; the
    plan keeps them alive.

    Raises:
        ValueError: the kernel rejected the arguments (its error code is in the message).
    """

    __slots__ = ('args', 'handle', 'run', 'out_shape', '_free', '__weakref__')

    def __init__(self, **args) -> None:
        unknown = set(args) - {f for f, _ in _FIELDS}
        if unknown:
            raise TypeError(f'unknown plan arguments {sorted(unknown)}; allowed: '
                            f'{[f for f, _ in _FIELDS]}')
        self.args = {**_DEFAULTS, **args}
        lib = _library()
        values = []
        for name, kind in _FIELDS:
            v = self.args[name]
            if kind == 'p':
                if v is not None and not (isinstance(v, Tensor) and v.is_contiguous() and
                                          v.device.type == 'cpu'):
                    raise ValueError(f'plan argument {name} must be a contiguous CPU tensor')
                values.append(None if v is None else v.data_ptr())
            else:
                values.append(int(v))
        status = ctypes.c_int(0)
        handle = lib.bnn_conv2d_plan(*values, ctypes.byref(status))
        if not handle:
            raise ValueError(f'bnn_conv2d_plan rejected its arguments (code {status.value}): '
                             + ', '.join(f'{k}={v}' for k, v in self.args.items()
                                         if not isinstance(v, Tensor)))
        self.handle = ctypes.c_void_p(handle)
        # run(x, xpacked, out, next_packed, residual) -> 0, or -9 for pointers that do not
        # match the plan (data_ptr() ints or None)
        self.run = functools.partial(lib.bnn_conv2d_run, self.handle)
        self._free = lib.bnn_conv2d_plan_free
        a = self.args
        self.out_shape = (a['n'], a['out_ctotal'] or a['out_channels'], a['oh'], a['ow'])

    def __del__(self) -> None:
        handle = getattr(self, 'handle', None)
        if handle is not None and handle.value:
            self._free(handle)
            handle.value = None

    def __reduce__(self):
        return (_rebuild, (self.args, ))


def _rebuild(args: dict) -> KernelPlan:
    return KernelPlan(**args)


def conv_out_size(h: int, w: int, kernel_size, stride, padding, dilation=(1, 1)):
    """(H_out, W_out) of a convolution."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    return ((h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1)


def conv_plan_args(conv, shape, threads: int, isa: int, wt: Tensor, tap_pop: Tensor,
                   scale: Optional[Tensor], bias: Optional[Tensor],
                   in_alpha: Optional[Tensor], in_beta: Optional[Tensor]) -> dict:
    """The :class:`KernelPlan` arguments of a ``PackedBinaryConv2d`` ``conv`` on an input of
    ``shape`` (N, C, H, W) (no fusion options)."""
    n, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = conv.kernel_size, conv.stride, conv.padding, \
        conv.dilation
    oh, ow = conv_out_size(h, w, conv.kernel_size, conv.stride, conv.padding, conv.dilation)
    return dict(n=n, c=c, h=h, w=w, wt=wt, tap_pop=tap_pop, out_channels=conv.out_channels,
                groups=conv.groups, kh=kh, kw=kw, sh=sh, sw=sw, ph=ph, pw=pw, dh=dh, dw=dw,
                pad_value=conv.pad_value, scale=scale, bias=bias, oh=oh, ow=ow, threads=threads,
                isa=isa, in_alpha=in_alpha, in_beta=in_beta)


__all__ = ['KernelPlan', 'conv_out_size', 'conv_plan_args']
