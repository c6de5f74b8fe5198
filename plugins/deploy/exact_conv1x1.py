"""Real 1x1 convolutions of exported models in C++, bit for bit as torch computes them.

The real 1x1 convs that stay in a binary network (ResNet's down-sampling shortcuts
``avg-pool -> 1x1 conv -> BatchNorm``, projection skips) are small GEMMs, where torch's CPU
convolution (oneDNN) spends much of its time outside the arithmetic: the shortcut conv of
binary ResNet-18's layer2 (64 -> 128 channels at 28x28) takes ~0.3 ms of ~13 ms per forward at
2 threads. ``csrc/conv1x1.cpp`` computes the same sums with the BatchNorm after the conv in one
pass: fused multiply-adds over the input channels in order, in blocks of ``block`` channels
whose sums are then added (oneDNN's order on AVX2 CPUs: one chain for up to 128 channels,
blocks of 128 above; found, not assumed).

Exactness is checked, never assumed: before the first use at an input shape, :class:`Conv1x1Norm`
runs torch's modules and the C++ pass on a random input and on zeros, for each candidate
``block`` in turn, and uses the C++ pass only if one gives torch's output bit for bit (sign of
zeros included) and runs faster than torch's modules there; otherwise torch's modules run, as
before. ``PLUGINS_DEPLOY_CONV1X1=0`` in the environment keeps torch's modules everywhere.
"""
from __future__ import annotations

import ctypes
import functools
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor, nn

from .block_patterns import plain_sequentials
from .build import LazyLibrary
from .norm_terms import batchnorm_terms

SOURCE = Path(__file__).parent / 'csrc' / 'conv1x1.cpp'
#: reduction blocks tried after "one chain over all channels", in this order
BLOCKS = (128, 64, 256, 32, 16, 8)


def _declare(lib: ctypes.CDLL) -> None:
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.c11_conv1x1.argtypes = [p, p, p, p, p, i, i, i, ctypes.c_int64, i, i, i]
    lib.c11_conv1x1.restype = i


_library = LazyLibrary(SOURCE, _declare, 'exact 1x1 conv', env='PLUGINS_DEPLOY_CONV1X1')


def conv1x1(x: Tensor, weight: Tensor, block: int, alpha: Optional[Tensor] = None,
            beta: Optional[Tensor] = None, vectorised: bool = True) -> Optional[Tensor]:
    """The C++ 1x1 conv (and BatchNorm terms) of ``x``, or None without the library.

    Args:
        x: (N, C, H, W) contiguous float32 CPU tensor.
        weight: (O, C, 1, 1) contiguous float32.
        block: input channels per reduction block (see the module docstring).
        alpha, beta: (O,) ``fma(y, alpha, beta)`` after the sum (a BatchNorm), or None.
        vectorised: False runs the scalar code (tests).

    Returns:
        (N, O, H, W) or None.
    """
    lib = _library()
    if lib is None:
        return None
    n, c, h, w = x.shape
    o = weight.shape[0]
    y = torch.empty(n, o, h, w)
    ptr = (lambda t: None if t is None else t.data_ptr())
    if lib.c11_conv1x1(x.data_ptr(), weight.data_ptr(), ptr(alpha), ptr(beta), y.data_ptr(), n,
                       c, o, h * w, block, torch.get_num_threads(), int(vectorised)):
        raise ValueError(f'c11_conv1x1 refused x {tuple(x.shape)}, weight '
                         f'{tuple(weight.shape)}, block {block}')
    return y


def _bits(t: Tensor) -> Tensor:
    return t.contiguous().view(torch.int32)


def _fastest(fns: Dict[str, callable], rounds: int = 5) -> str:
    best = {k: float('inf') for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return min(best, key=best.get)


class Conv1x1Norm:
    """A real 1x1 conv, optionally followed by an eval BatchNorm, run by the C++ pass where it
    equals torch's modules bit for bit and is faster (decided once per input shape).

    Args:
        conv: an ``nn.Conv2d`` with a 1x1 kernel, stride 1, no padding, one group, no bias.
        norm: the ``nn.BatchNorm2d`` applied to its output, or None.
    """

    def __init__(self, conv: nn.Conv2d, norm: Optional[nn.BatchNorm2d] = None) -> None:
        self.conv, self.norm = conv, norm
        self.decisions: Dict[Tuple[int, ...], Optional[int]] = {}  # shape -> block or None
        self._terms_key: Optional[tuple] = None
        self._terms: Tuple[Optional[Tensor], Optional[Tensor]] = (None, None)

    @staticmethod
    def applies(conv: nn.Module, norm: Optional[nn.Module] = None) -> bool:
        """Whether ``conv`` (and ``norm``) have the form this pass computes."""
        ok = type(conv) is nn.Conv2d and conv.kernel_size == (1, 1) and \
            conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1 and \
            conv.bias is None and conv.padding_mode == 'zeros' and \
            conv.weight.dtype == torch.float32
        return ok and (norm is None or (type(norm) is nn.BatchNorm2d and
                                        norm.num_features == conv.out_channels))

    def reference(self, x: Tensor) -> Tensor:
        """torch's modules."""
        y = self.conv(x)
        return self.norm(y) if self.norm is not None else y

    def _norm_terms(self) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        if self.norm is None:
            return None, None
        norm = self.norm
        tensors = [t for t in (norm.running_mean, norm.running_var, norm.weight, norm.bias)
                   if t is not None]
        key = tuple((id(t), t._version) for t in tensors) + (norm.eps, )
        if key != self._terms_key:
            self._terms, self._terms_key = batchnorm_terms(norm), key
        return self._terms

    def _run(self, x: Tensor, block: int) -> Optional[Tensor]:
        alpha, beta = self._norm_terms()
        return conv1x1(x, self.conv.weight.contiguous(), block, alpha, beta)

    def _decide(self, x: Tensor) -> Optional[int]:
        if _library() is None:
            return None
        g = torch.Generator().manual_seed(11)
        probe = torch.randn(x.shape, generator=g)
        zeros = torch.zeros(x.shape)
        ref, ref0 = _bits(self.reference(probe)), _bits(self.reference(zeros))
        c = x.shape[1]
        for block in (c, ) + tuple(b for b in BLOCKS if b < c):
            y = self._run(probe, block)
            if y is None:
                return None
            if torch.equal(_bits(y), ref) and torch.equal(_bits(self._run(zeros, block)), ref0):
                fast = _fastest({'c++': lambda: self._run(x, block),
                                 'torch': lambda: self.reference(x)})
                return block if fast == 'c++' else None
        return None

    def __call__(self, x: Tensor) -> Tensor:
        """``norm(conv(x))``. Shape: (N, C, H, W) -> (N, O, H, W)."""
        if self.norm is not None and self.norm.training or x.dim() != 4 or \
                x.device.type != 'cpu' or x.dtype != torch.float32 or \
                (torch.is_grad_enabled() and (x.requires_grad or
                                              self.conv.weight.requires_grad)):
            return self.reference(x)
        x = x.contiguous()
        key = tuple(x.shape) + (torch.get_num_threads(), )
        if key not in self.decisions:
            with torch.no_grad():
                self.decisions[key] = self._decide(x)
        block = self.decisions[key]
        y = self._run(x, block) if block is not None else None
        return y if y is not None else self.reference(x)


def fused_sequential_forward(seq: nn.Sequential, fused: Dict[int, Conv1x1Norm],
                             x: Tensor) -> Tensor:
    """``seq(x)`` with the modules at the indices of ``fused`` (and the BatchNorm after each)
    run by their :class:`Conv1x1Norm`."""
    mods, i = list(seq), 0
    while i < len(mods):
        op = fused.get(i)
        if op is None:
            x = mods[i](x)
            i += 1
        else:
            x = op(x)
            i += 2 if op.norm is not None else 1
    return x


def exact_conv1x1s(model: nn.Module) -> int:
    """Run every ``1x1 conv -> BatchNorm`` pair (and lone 1x1 conv) inside an ``nn.Sequential``
    of ``model`` through :class:`Conv1x1Norm`, in place (the Sequential gets another forward;
    no parameter or buffer changes). Sequentials that already have their own forward (another
    export pass's) are left alone.

    Args:
        model: an exported (eval) model.

    Returns:
        The number of convs handed to :class:`Conv1x1Norm`.
    """
    count = 0
    for _, seq in list(plain_sequentials(model)):
        if 'forward' in seq.__dict__:
            continue
        mods, fused, i = list(seq), {}, 0
        while i < len(mods):
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if Conv1x1Norm.applies(mods[i], nxt):
                fused[i] = Conv1x1Norm(mods[i], nxt)
                i += 2
            elif Conv1x1Norm.applies(mods[i]):
                fused[i] = Conv1x1Norm(mods[i])
                i += 1
            else:
                i += 1
        if fused:
            # a partial of a module-level function: copied and pickled with the model
            seq.forward = functools.partial(fused_sequential_forward, seq, fused)
            count += len(fused)
    return count


__all__ = ['Conv1x1Norm', 'conv1x1', 'exact_conv1x1s', 'fused_sequential_forward']
