"""Real 1x1 convolutions of exported models in C++, bit for bit as torch computes them.

The real 1x1 convs that stay in a binary network (ResNet's down-sampling shortcuts
``avg-pool -> 1x1 conv -> BatchNorm``, projection skips, the hourglass's feature, heatmap and
merge convs) are GEMMs where torch's CPU convolution (oneDNN) spends much of its time outside
the arithmetic: it reorders the NCHW input into its blocked layout and the output back. The
shortcut conv of binary ResNet-18's layer2 (64 -> 128 channels at 28x28) takes ~0.3 ms of
~13 ms per forward at 2 threads. ``csrc/conv1x1.cpp`` computes the same sums on NCHW, with the
elementwise modules around the conv in the same pass (a pre-activation ``BatchNorm -> ReLU``
before it, applied while the pass copies an input tile, so the normalised input is never
written to memory; a ``BatchNorm -> ReLU`` after it, in the output's epilogue; each optional,
see :class:`Conv1x1Norm`): fused multiply-adds over the input channels in
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
torch's modules there; otherwise torch's modules run, as before. With a pre-activation the
probe has a third input (:func:`signed_zero_probe`: zeros of both signs, and values where the
BatchNorm's output is zero or tiny, of either sign). The BatchNorms are torch's eval
BatchNorm on the CPU (one fused multiply-add, :func:`plugins.deploy.norm_terms.batchnorm_terms`)
and the ReLU is torch's on the CPU (``clamp_min(v, 0)``: +0 for negatives, -0 and NaN passed
unchanged).
``PLUGINS_DEPLOY_CONV1X1=0`` in the environment keeps torch's modules everywhere.
"""
from __future__ import annotations

import ctypes
import functools
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn

from .block_patterns import BlockPatterns, plain_sequentials
from .build import LazyLibrary
from .norm_terms import batchnorm_terms
from .tensor_state import TensorSlots

SOURCE = Path(__file__).parent / 'csrc' / 'conv1x1.cpp'
#: reduction blocks tried first after "one chain over all channels", in this order (oneDNN's
#: jit_1x1: 128 on AVX2; on AVX-512 80, or 96 from its cache-aliasing cap at 64x64), then every
#: other multiple of 16 (:func:`candidate_blocks`)
BLOCKS = (128, 96, 80, 64, 256, 32, 16, 8)
#: the C++ code paths (``isa`` of :func:`conv1x1`)
ISAS = {'scalar': 0, 'avx2': 1, 'avx512': 2}
#: pre-activation blocks whose forward is ``post_act(conv(act(norm(x))))`` (the attribute names
#: in that order) and nothing else reads ``norm``'s or ``act``'s output: :func:`exact_conv1x1s`
#: runs ``conv(act(norm(x)))`` as one :class:`Conv1x1Norm`
PREACT_BLOCKS = BlockPatterns([('plugins.pose.layers:PreActConv',
                                ('norm', 'act', 'conv', 'post_act'))])


def _declare(lib: ctypes.CDLL) -> None:
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.c11_conv1x1.argtypes = [p, p, p, p, p, p, i, i, i, ctypes.c_int64, i, i, i, i, p, p,
                                i, i]
    lib.c11_conv1x1.restype = i
    lib.c11_conv1x1_isa.argtypes = [i]
    lib.c11_conv1x1_isa.restype = i


_library = LazyLibrary(SOURCE, _declare, 'exact 1x1 conv', env='PLUGINS_DEPLOY_CONV1X1')


def conv1x1(x: Tensor, weight: Tensor, block: int, bias: Optional[Tensor] = None,
            alpha: Optional[Tensor] = None, beta: Optional[Tensor] = None,
            bias_last: bool = False, isa: int = ISAS['avx512'], relu: bool = False,
            pre_alpha: Optional[Tensor] = None, pre_beta: Optional[Tensor] = None,
            pre_relu: bool = False) -> Optional[Tensor]:
    """The C++ 1x1 conv (with its BatchNorm terms and ReLUs) of ``x``, or None without the
    library: ``relu(fma(conv(a), alpha, beta))`` with ``a = relu(fma(x, pre_alpha,
    pre_beta))``, each of the four steps optional (torch's CPU ReLU: +0 for negatives, -0 and
    NaN unchanged).

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
        relu: a ReLU on the output (after the BatchNorm, if any).
        pre_alpha, pre_beta: (C,) ``fma(x, pre_alpha, pre_beta)`` before the conv (a
            pre-activation block's BatchNorm), or None.
        pre_relu: a ReLU before the conv (after ``pre_alpha``, if any).

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
                       torch.get_num_threads(), isa, ptr(pre_alpha), ptr(pre_beta),
                       int(pre_relu), int(relu)):
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


def signed_zero_probe(shape: Tuple[int, ...], terms: Optional[Tensor],
                      generator: torch.Generator) -> Tensor:
    """An input for the probe of a pre-activation ``relu(fma(x, alpha, beta))``: along each
    row +0, -0, ``-beta / alpha`` rounded (the BatchNorm's output zero or a tiny value of either
    sign; 0 where alpha is 0) and a random value, in turn.

    Args:
        shape: (N, C, H, W).
        terms: the BatchNorm's (C,) terms ``alpha, beta`` as one (2, C) tensor, or None (no
            BatchNorm: the root is 0).
        generator: for the random values.

    Returns:
        (N, C, H, W) float32.
    """
    n, c, h, w = shape
    x = torch.randn(shape, generator=generator).reshape(n, c, h * w)
    root = torch.zeros(c)
    if terms is not None:
        alpha, beta = terms
        root = torch.where(alpha != 0, -beta / torch.where(alpha != 0, alpha, 1.0), 0.0)
    x[:, :, 0::4] = 0.0
    x[:, :, 1::4] = -0.0
    x[:, :, 2::4] = root.view(1, c, 1)
    return x.reshape(shape)


def _fastest(fns: Dict[str, callable], rounds: int = 5) -> str:
    best = {k: float('inf') for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return min(best, key=best.get)


class _NormTerms:
    """``batchnorm_terms(norm)``, computed again only when the norm's tensors or ``eps``
    changed (:class:`~plugins.deploy.tensor_state.TensorSlots`)."""

    def __init__(self, norm: Optional[nn.BatchNorm2d]) -> None:
        self.norm = norm
        self._state: Optional[Tuple[TensorSlots, float]] = None
        self._terms: Tuple[Optional[Tensor], Optional[Tensor]] = (None, None)

    def __call__(self) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        norm = self.norm
        if norm is None:
            return None, None
        if self._state is None or self._state[1] != norm.eps or not self._state[0].unchanged():
            self._terms, self._state = batchnorm_terms(norm), (TensorSlots([norm]), norm.eps)
        return self._terms


def _eval_norm(norm: Optional[nn.Module], channels: int) -> bool:
    return norm is None or (type(norm) is nn.BatchNorm2d and norm.num_features == channels
                            and norm.running_mean is not None)


def _relu(act: Optional[nn.Module]) -> bool:
    return act is None or type(act) is nn.ReLU


class Conv1x1Norm:
    """A real 1x1 conv with the elementwise modules around it, ``relu(norm(conv(pre_relu(
    pre_norm(x)))))`` (all but the conv optional), run by the C++ pass where it equals torch's
    modules bit for bit and is faster (decided once per input shape).

    Args:
        conv: an ``nn.Conv2d`` with a 1x1 kernel, stride 1, no padding, one group (a bias or
            none).
        norm: the ``nn.BatchNorm2d`` applied to its output, or None.
        relu: the ``nn.ReLU`` after that (after the conv without a norm), or None.
        pre_norm: the ``nn.BatchNorm2d`` applied to its input (a pre-activation block), or
            None.
        pre_relu: the ``nn.ReLU`` between ``pre_norm`` and the conv, or None.
    """

    def __init__(self, conv: nn.Conv2d, norm: Optional[nn.BatchNorm2d] = None,
                 relu: Optional[nn.ReLU] = None, pre_norm: Optional[nn.BatchNorm2d] = None,
                 pre_relu: Optional[nn.ReLU] = None) -> None:
        self.conv, self.norm, self.relu = conv, norm, relu
        self.pre_norm, self.pre_relu = pre_norm, pre_relu
        self.decisions: Dict[Tuple[int, ...], Optional[Order]] = {}  # shape -> order or None
        self._terms, self._pre_terms = _NormTerms(norm), _NormTerms(pre_norm)

    @property
    def span(self) -> int:
        """The number of modules this object computes (the conv and the others given)."""
        return sum(m is not None for m in (self.pre_norm, self.pre_relu, self.conv, self.norm,
                                           self.relu))

    @staticmethod
    def applies(conv: nn.Module, norm: Optional[nn.Module] = None,
                relu: Optional[nn.Module] = None, pre_norm: Optional[nn.Module] = None,
                pre_relu: Optional[nn.Module] = None) -> bool:
        """Whether the modules have the form this pass computes (an in-place ``pre_relu``
        only after a ``pre_norm``: it would change the caller's input)."""
        ok = type(conv) is nn.Conv2d and conv.kernel_size == (1, 1) and \
            conv.stride == (1, 1) and conv.padding == (0, 0) and conv.groups == 1 and \
            conv.padding_mode == 'zeros' and conv.weight.dtype == torch.float32 and \
            (conv.bias is None or conv.bias.dtype == torch.float32)
        return ok and _eval_norm(norm, conv.out_channels) and _relu(relu) and \
            _eval_norm(pre_norm, conv.in_channels) and _relu(pre_relu) and \
            not (pre_relu is not None and pre_relu.inplace and pre_norm is None)

    def reference(self, x: Tensor) -> Tensor:
        """torch's modules (the conv's class forward: an exported lone conv's own forward is
        this object, see :func:`exact_conv1x1s`)."""
        for m in (self.pre_norm, self.pre_relu):
            x = m(x) if m is not None else x
        y = nn.Conv2d.forward(self.conv, x)
        for m in (self.norm, self.relu):
            y = m(y) if m is not None else y
        return y

    def _run(self, x: Tensor, order: Order) -> Optional[Tensor]:
        alpha, beta = self._terms()
        pre_alpha, pre_beta = self._pre_terms()
        bias = self.conv.bias
        return conv1x1(x, self.conv.weight.contiguous(), order.block,
                       None if bias is None else bias.contiguous(), alpha, beta,
                       order.bias_last, relu=self.relu is not None, pre_alpha=pre_alpha,
                       pre_beta=pre_beta, pre_relu=self.pre_relu is not None)

    def _probes(self, shape: Tuple[int, ...]) -> List[Tensor]:
        """A random input and zeros; with a pre-activation also an input whose normalised
        values are exact zeros of both signs where the BatchNorm allows it."""
        g = torch.Generator().manual_seed(11)
        probes = [torch.randn(shape, generator=g), torch.zeros(shape)]
        if self.pre_norm is not None or self.pre_relu is not None:
            alpha, beta = self._pre_terms()
            terms = None if alpha is None else torch.stack([alpha, beta])
            probes.append(signed_zero_probe(shape, terms, g))
        return probes

    def _decide(self, x: Tensor) -> Optional[Order]:
        if _library() is None:
            return None
        probes = self._probes(tuple(x.shape))
        refs = [_bits(self.reference(p)) for p in probes]
        for order in candidate_orders(x.shape[1], self.conv.bias is not None):
            ys = []
            for p in probes:
                ys.append(self._run(p, order))
                if ys[-1] is None:
                    return None
                if not torch.equal(_bits(ys[-1]), refs[len(ys) - 1]):
                    break
            else:
                fast = _fastest({'c++': lambda: self._run(x, order),
                                 'torch': lambda: self.reference(x)})
                return order if fast == 'c++' else None
        return None

    def training(self) -> bool:
        """Whether a norm is in training mode (then torch's modules run)."""
        return any(m is not None and m.training for m in (self.norm, self.pre_norm))

    def __call__(self, x: Tensor) -> Tensor:
        """``relu(norm(conv(pre_relu(pre_norm(x)))))``. Shape: (N, C, H, W) -> (N, O, H, W).
        """
        mods = (self.pre_norm, self.conv, self.norm)
        if self.training() or x.dim() != 4 or \
                x.device.type != 'cpu' or x.dtype != torch.float32 or \
                (torch.is_grad_enabled() and
                 (x.requires_grad or any(t.requires_grad for m in mods if m is not None
                                         for t in m.parameters()))):
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
    """``seq(x)`` with the modules from each index of ``fused`` on (``span`` of them) run by
    their :class:`Conv1x1Norm`."""
    mods, i = list(seq), 0
    while i < len(mods):
        op = fused.get(i)
        if op is None:
            x = mods[i](x)
            i += 1
        else:
            x = op(x)
            i += op.span
    return x


def preact_block_forward(block: nn.Module, post_act: str, op: Conv1x1Norm, x: Tensor) -> Tensor:
    """The forward of a :data:`PREACT_BLOCKS` block: ``post_act(op(x))``, ``op`` computing its
    ``conv(act(norm(x)))``."""
    return getattr(block, post_act)(op(x))


def _sequential_match(mods: List[nn.Module], i: int) -> Optional[Conv1x1Norm]:
    """The longest ``[BatchNorm] [ReLU] 1x1 conv [BatchNorm] [ReLU]`` run of ``mods`` from
    index ``i`` that :class:`Conv1x1Norm` computes, or None."""
    def at(j: int, kind: type) -> Optional[nn.Module]:
        return mods[j] if j < len(mods) and type(mods[j]) is kind else None

    pre_norm = at(i, nn.BatchNorm2d)
    pre_relu = at(i + (pre_norm is not None), nn.ReLU)
    j = i + (pre_norm is not None) + (pre_relu is not None)  # the conv
    if j >= len(mods):
        return None
    norm = at(j + 1, nn.BatchNorm2d)
    relu = at(j + 1 + (norm is not None), nn.ReLU)
    for post in ((norm, relu), (norm, None), (None, None)):
        if Conv1x1Norm.applies(mods[j], *post, pre_norm, pre_relu):
            return Conv1x1Norm(mods[j], *post, pre_norm, pre_relu)
    return None


def _preact_op(block: nn.Module) -> Optional[Conv1x1Norm]:
    """The :class:`Conv1x1Norm` of a :data:`PREACT_BLOCKS` block's ``conv(act(norm(x)))``
    (``nn.Identity`` as no module), or None."""
    norm, act, conv = (getattr(block, a) for a in PREACT_BLOCKS.get(type(block))[:3])
    pre_norm = None if type(norm) is nn.Identity else norm
    pre_relu = None if type(act) is nn.Identity else act
    if 'forward' in conv.__dict__ or not Conv1x1Norm.applies(conv, pre_norm=pre_norm,
                                                               pre_relu=pre_relu):
        return None
    return Conv1x1Norm(conv, pre_norm=pre_norm, pre_relu=pre_relu)


def exact_conv1x1s(model: nn.Module) -> int:
    """Run the real 1x1 convs of ``model`` through :class:`Conv1x1Norm`, in place, with the
    elementwise modules around them: inside an ``nn.Sequential`` each ``[BatchNorm] [ReLU] 1x1
    conv [BatchNorm] [ReLU]`` run (the longest the pass computes; the Sequential gets another
    forward); then the pre-activation blocks of :data:`PREACT_BLOCKS` (e.g. the projection
    shortcut ``BatchNorm -> ReLU -> 1x1 conv``; the block gets another forward); then every
    other 1x1 conv on its own (the conv's forward becomes its :class:`Conv1x1Norm`: e.g. the
    1x1 convs that a model's forward calls from a ModuleList). No parameter or buffer changes.
    Sequentials, blocks and convs that already have their own forward (another export pass's,
    or this one's) are left alone.

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
            op = _sequential_match(mods, i)
            if op is not None:
                fused[i] = op
            i += op.span if op is not None else 1
        if fused:
            # a partial of a module-level function: copied and pickled with the model
            seq.forward = functools.partial(fused_sequential_forward, seq, fused)
            count += len(fused)
            taken.update(id(op.conv) for op in fused.values())
    for _, block in list(model.named_modules()):
        if type(block) not in PREACT_BLOCKS:
            continue
        own = block.__dict__.get('forward')
        if getattr(own, 'func', None) is preact_block_forward:  # this pass's, earlier
            taken.add(id(own.args[2].conv))
        op = _preact_op(block) if own is None else None
        if op is not None and id(op.conv) not in taken:
            post_act = PREACT_BLOCKS.get(type(block))[3]
            block.forward = functools.partial(preact_block_forward, block, post_act, op)
            count += 1
            taken.add(id(op.conv))
    for _, conv in list(model.named_modules()):
        if id(conv) not in taken and 'forward' not in conv.__dict__ and \
                Conv1x1Norm.applies(conv):
            conv.forward = Conv1x1Norm(conv)  # copied and pickled with the model
            count += 1
    return count


__all__ = ['Conv1x1Norm', 'Order', 'PREACT_BLOCKS', 'candidate_blocks', 'candidate_orders',
           'conv1x1', 'exact_conv1x1s', 'fused_sequential_forward', 'preact_block_forward',
           'signed_zero_probe', 'usable_isa']
