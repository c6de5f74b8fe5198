"""Real 1x1 convolutions of exported models in C++, bit for bit as torch computes them.

The real 1x1 convs that stay in a binary network (ResNet's down-sampling shortcuts
``avg-pool -> 1x1 conv -> BatchNorm``, projection skips, the hourglass's feature, heatmap and
merge convs) are GEMMs where torch's CPU convolution (oneDNN) spends much of its time outside
the arithmetic: it reorders the NCHW input into its blocked layout and the output back. The
shortcut conv of binary ResNet-18's layer2 (64 -> 128 channels at 28x28) takes ~0.3 ms of
~13 ms per forward at 2 threads. ``csrc/conv1x1.cpp`` computes the same sums on NCHW, with a
BatchNorm after the conv in the same pass: fused multiply-adds over the input channels in
order (from the conv's bias, if any), in blocks of ``block`` channels whose sums are then
added. oneDNN's block depends on the CPU and the shape (found, not assumed): on AVX2 CPUs one
chain for up to 128 channels, blocks of 128 above; on AVX-512 CPUs (jit_1x1:avx512_core, up to
8 threads) one chain where the whole reduction fits its cache budget, else blocks of 80
channels (10 < H < 28) or 96 (e.g. 128 or 256 channels at 64x64), the bias as the first
block's start; on one thread torch runs its own GEMM instead (one chain, the bias added last).

Exactness is checked, never assumed: before the first use at an input shape, :class:`Conv1x1Norm`
runs torch's modules and the C++ pass on a random input and on zeros, for each candidate order
in turn (:func:`candidate_orders`: the block, and where a bias enters), and uses the C++ pass
only if one gives torch's output bit for bit (sign of zeros included) and runs faster than
torch's modules there; otherwise torch's modules run, as before. ``PLUGINS_DEPLOY_CONV1X1=0``
in the environment keeps torch's modules everywhere.
"""
from __future__ import annotations

import ctypes
import functools
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn

from .block_patterns import plain_sequentials
from .build import LazyLibrary
from .norm_terms import batchnorm_terms

SOURCE = Path(__file__).parent / 'csrc' / 'conv1x1.cpp'
#: reduction blocks tried first after "one chain over all channels", in this order (oneDNN's
#: jit_1x1: 128 on AVX2; on AVX-512 80, or 96 from its cache-aliasing cap at 64x64), then every
#: other multiple of 16 (:func:`candidate_blocks`)
BLOCKS = (128, 96, 80, 64, 256, 32, 16, 8)
#: the C++ code paths (``isa`` of :func:`conv1x1`)
ISAS = {'scalar': 0, 'avx2': 1, 'avx512': 2}


def _declare(lib: ctypes.CDLL) -> None:
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.c11_conv1x1.argtypes = [p, p, p, p, p, p, i, i, i, ctypes.c_int64, i, i, i, i]
    lib.c11_conv1x1.restype = i
    lib.c11_conv1x1_isa.argtypes = [i]
    lib.c11_conv1x1_isa.restype = i


_library = LazyLibrary(SOURCE, _declare, 'exact 1x1 conv', env='PLUGINS_DEPLOY_CONV1X1')


def conv1x1(x: Tensor, weight: Tensor, block: int, bias: Optional[Tensor] = None,
            alpha: Optional[Tensor] = None, beta: Optional[Tensor] = None,
            bias_last: bool = False, isa: int = ISAS['avx512']) -> Optional[Tensor]:
    """The C++ 1x1 conv (and BatchNorm terms) of ``x``, or None without the library.

    Args:
        x: (N, C, H, W) contiguous float32 CPU tensor.
        weight: (O, C, 1, 1) contiguous float32.
        block: input channels per reduction block (see the module docstring).
        bias: (O,) contiguous float32, or None.
        alpha, beta: (O,) ``fma(y, alpha, beta)`` after the sum (a BatchNorm), or None.
        bias_last: add the bias to the sum of the blocks (else: the first block's chains start
            from it).
        isa: the best code path to run (:data:`ISAS`; the CPU may cap it; every path computes
            the same bits; tests run each).

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
    if lib.c11_conv1x1(x.data_ptr(), weight.data_ptr(), ptr(bias), ptr(alpha), ptr(beta),
                       y.data_ptr(), n, c, o, h * w, block, int(bias_last),
                       torch.get_num_threads(), isa):
        raise ValueError(f'c11_conv1x1 refused x {tuple(x.shape)}, weight '
                         f'{tuple(weight.shape)}, block {block}')
    return y


def usable_isa(isa: int) -> Optional[int]:
    """The code path :func:`conv1x1` runs for ``isa`` on this CPU, or None without the
    library."""
    lib = _library()
    return None if lib is None else lib.c11_conv1x1_isa(isa)


def candidate_blocks(channels: int) -> Tuple[int, ...]:
    """The reduction blocks the probe tries for ``channels`` input channels, in order: one
    chain, :data:`BLOCKS`, then the other multiples of 16 below ``channels``."""
    named = (channels, ) + tuple(b for b in BLOCKS if b < channels)
    return named + tuple(b for b in range(16, channels, 16) if b not in named)


class Order(NamedTuple):
    """A summation order of :func:`conv1x1`: its ``block`` and ``bias_last``."""
    block: int
    bias_last: bool = False


def candidate_orders(channels: int, bias: bool) -> List[Order]:
    """The orders the probe tries, in order: :func:`candidate_blocks`, each with the bias
    first (oneDNN) and then, with a bias, last (torch's GEMM-based conv on one thread)."""
    return [Order(b, last) for b in candidate_blocks(channels)
            for last in ((False, True) if bias else (False, ))]


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
        conv: an ``nn.Conv2d`` with a 1x1 kernel, stride 1, no padding, one group (a bias or
            none).
        norm: the ``nn.BatchNorm2d`` applied to its output, or None.
    """

    def __init__(self, conv: nn.Conv2d, norm: Optional[nn.BatchNorm2d] = None) -> None:
        self.conv, self.norm = conv, norm
        self.decisions: Dict[Tuple[int, ...], Optional[Order]] = {}  # shape -> order or None
        self._terms_key: Optional[tuple] = None
        self._terms: Tuple[Optional[Tensor], Optional[Tensor]] = (None, None)

    @staticmethod
    def applies(conv: nn.Module, norm: Optional[nn.Module] = None) -> bool:
        """Whether ``conv`` (and ``norm``) have the form this pass computes."""
        ok = type(conv) is nn.Conv2d and conv.kernel_size == (1, 1) and \
            conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1 and \
            conv.padding_mode == 'zeros' and conv.weight.dtype == torch.float32 and \
            (conv.bias is None or conv.bias.dtype == torch.float32)
        return ok and (norm is None or (type(norm) is nn.BatchNorm2d and
                                        norm.num_features == conv.out_channels))

    def reference(self, x: Tensor) -> Tensor:
        """torch's modules (the conv's class forward: an exported lone conv's own forward is
        this object, see :func:`exact_conv1x1s`)."""
        y = nn.Conv2d.forward(self.conv, x)
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

    def _run(self, x: Tensor, order: Order) -> Optional[Tensor]:
        alpha, beta = self._norm_terms()
        bias = self.conv.bias
        return conv1x1(x, self.conv.weight.contiguous(), order.block,
                       None if bias is None else bias.contiguous(), alpha, beta,
                       order.bias_last)

    def _decide(self, x: Tensor) -> Optional[Order]:
        if _library() is None:
            return None
        g = torch.Generator().manual_seed(11)
        probe = torch.randn(x.shape, generator=g)
        zeros = torch.zeros(x.shape)
        ref, ref0 = _bits(self.reference(probe)), _bits(self.reference(zeros))
        for order in candidate_orders(x.shape[1], self.conv.bias is not None):
            y = self._run(probe, order)
            if y is None:
                return None
            if torch.equal(_bits(y), ref) and torch.equal(_bits(self._run(zeros, order)), ref0):
                fast = _fastest({'c++': lambda: self._run(x, order),
                                 'torch': lambda: self.reference(x)})
                return order if fast == 'c++' else None
        return None

    def __call__(self, x: Tensor) -> Tensor:
        """``norm(conv(x))``. Shape: (N, C, H, W) -> (N, O, H, W)."""
        if self.norm is not None and self.norm.training or x.dim() != 4 or \
                x.device.type != 'cpu' or x.dtype != torch.float32 or \
                (torch.is_grad_enabled() and
                 any(t is not None and t.requires_grad
                     for t in (x, self.conv.weight, self.conv.bias))):
            return self.reference(x)
        x = x.contiguous()
        key = tuple(x.shape) + (torch.get_num_threads(), )
        if key not in self.decisions:
            with torch.no_grad():
                self.decisions[key] = self._decide(x)
        order = self.decisions[key]
        y = self._run(x, order) if order is not None else None
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
    """Run the real 1x1 convs of ``model`` through :class:`Conv1x1Norm`, in place: every
    ``1x1 conv -> BatchNorm`` pair (and lone 1x1 conv) inside an ``nn.Sequential`` (the
    Sequential gets another forward), then every other 1x1 conv on its own (the conv's forward
    becomes its :class:`Conv1x1Norm`: e.g. the projection of a pre-activation shortcut
    ``BatchNorm -> ReLU -> 1x1 conv``, whose BatchNorm and ReLU stay torch's, or the 1x1 convs
    that a model's forward calls from a ModuleList). No parameter or buffer changes.
    Sequentials and convs that already have their own forward (another export pass's, or this
    one's) are left alone.

    Args:
        model: an exported (eval) model.

    Returns:
        The number of convs handed to :class:`Conv1x1Norm`.
    """
    count, taken = 0, set()
    for _, seq in list(plain_sequentials(model)):
        if 'forward' in seq.__dict__:
            own = seq.__dict__['forward']
            if getattr(own, 'func', None) is fused_sequential_forward:  # this pass's, earlier
                taken.update(id(op.conv) for op in own.args[1].values())
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
            taken.update(id(op.conv) for op in fused.values())
    for _, conv in list(model.named_modules()):
        if id(conv) not in taken and 'forward' not in conv.__dict__ and \
                Conv1x1Norm.applies(conv):
            conv.forward = Conv1x1Norm(conv)  # copied and pickled with the model
            count += 1
    return count


__all__ = ['Conv1x1Norm', 'Order', 'candidate_blocks', 'candidate_orders', 'conv1x1',
           'exact_conv1x1s', 'fused_sequential_forward', 'usable_isa']
