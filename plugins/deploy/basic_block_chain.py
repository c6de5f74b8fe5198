"""Packed Bi-Real basic blocks: two kernel calls per ResNet block, activations packed between.

The Bi-Real layout ("Bi-Real Net", Liu et al., ECCV 2018; :class:`plugins.cls.resnets.BasicBlock`
with ``skip='conv'``) gives every binary conv its own real identity skip::

    y   = act1(bn1(conv1(x)) + identity)         identity = x or downsample(x)
    out = act2(bn2(conv2(y)) + y)

In an exported model each line becomes one ``bnn_conv2d_chain`` call with ``order=1``: the
kernel's epilogue computes ``v = conv * s + b``, the BatchNorm after the conv
(``post_alpha``, ``post_beta``), ``+ residual``, the activation (PReLU / LearnableSlope), writes
``v`` and packs its sign bits for the next conv. So ``bn1``, ``act1``, the additions, ``bn2`` and
``act2`` never make a float pass of their own, and ``conv2`` reads ``y`` already packed.

Across blocks (:func:`chain_basic_sequentials`): in an ``nn.Sequential`` of such blocks (a
ResNet stage) the second call of block ``k`` also packs the sign bits of its output, which
block ``k + 1``'s first conv reads instead of packing the float tensor again (the float output
is still written: it is the next block's identity or the input of its downsample shortcut).
``export_binary`` does both (:func:`chain_basic_layers`): with the kernel's kept plans the
skipped packing is measurable (binary ResNet-18, 2 threads: 4.99 -> 4.86 and 5.34 -> 5.20 ms
per forward, two interleaved runs; it was no faster with the per-call set-up).

The BatchNorm after a conv is applied as torch's CPU kernel computes it (read in
``aten/src/ATen/native/cpu/batch_norm_kernel.cpp`` and checked bit for bit in the tests):
``alpha = weight * (1 / sqrt(running_var + eps))`` (scalar C++: a correctly rounded float32
square root, which ``torch.sqrt``'s vectorised loop is not in ~0.5 % of the values) and
``beta = bias - mean * alpha``, then ``x * alpha + beta``, where the vectorised (AVX2/AVX-512)
build of torch contracts both ``bias - mean * alpha`` and ``x * alpha + beta`` into fused
multiply-adds (one rounding each). :func:`post_norm_terms` returns that ``alpha`` and ``beta``
(the FMA exactly rounded, in float64 with round-to-odd); the kernel rounds ``v * alpha +
beta`` once (``fmaf``). :func:`kernel_rounds_like_torch` checks the whole epilogue against
torch once per process; without a match (another build of torch or of the kernel) no block is
fused.

Blocks declare the pattern through :func:`register_basic_block`. A block whose parts do not
fit keeps its own forward: spatial scales, ``act_scale``, grouped or dilated convs, a norm that
is not an eval ``BatchNorm2d`` with running statistics, activations other than PReLU /
``ChannelPReLU`` / ``LearnableSlope`` without shifts / none (ReLU gives ``+0`` where the
kernel's ``v * 0`` gives ``-0``, a different sign bit), ``skip='block'``, training mode, the
``'torch'`` backend, and inputs that are not float32 CPU tensors.
"""
from __future__ import annotations

import functools
import warnings
from typing import List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn

from .block_patterns import BlockPatterns, plain_sequentials
from .chain import _activation, _f32, _ptr
from .norm_terms import batchnorm_terms as post_norm_terms
from .kernel_plan import KernelPlan, conv_out_size, conv_plan_args
from .packed_conv import PackedBinaryConv2d, _isa
from .tensor_state import TensorSlots

__all__ = [
    'BASIC_BLOCKS', 'register_basic_block', 'basic_block_parts', 'post_norm_terms',
    'fused_basic_block_forward', 'fused_sequential_forward', 'chain_basic_blocks',
    'chain_basic_layers', 'chain_basic_sequentials', 'kernel_rounds_like_torch'
]

# block class -> (conv1, bn1, act1, conv2, bn2, act2, downsample, skip attribute ('' = always
# the Bi-Real layout; else the attribute must equal 'conv'))
BASIC_BLOCKS = BlockPatterns([('plugins.cls.resnets:BasicBlock',
                               ('conv1', 'bn1', 'act1', 'conv2', 'bn2', 'act2', 'downsample',
                                'skip'))])


def register_basic_block(cls: type, conv1: str = 'conv1', bn1: str = 'bn1', act1: str = 'act1',
                         conv2: str = 'conv2', bn2: str = 'bn2', act2: str = 'act2',
                         downsample: str = 'downsample', skip: str = '') -> type:
    """Declare that ``cls.forward`` computes ``identity = x if downsample is None else
    downsample(x); y = act1(bn1(conv1(x)) + identity); return act2(bn2(conv2(y)) + y)``
    (when ``skip`` names an attribute, only while it equals ``'conv'``)."""
    return BASIC_BLOCKS.register(cls, (conv1, bn1, act1, conv2, bn2, act2, downsample, skip))


class _ConvStep(NamedTuple):
    """What one fused kernel call needs (float32 contiguous tensors, kept alive here)."""
    conv: PackedBinaryConv2d
    wt: Tensor
    tap_pop: Tensor
    scale: Optional[Tensor]
    bias: Optional[Tensor]
    in_alpha: Optional[Tensor]
    in_beta: Optional[Tensor]
    post_alpha: Tensor
    post_beta: Tensor
    act_pos: Optional[Tensor]
    act_neg: Optional[Tensor]


def _conv_ok(conv: nn.Module) -> bool:
    return (type(conv) is PackedBinaryConv2d and conv.backend == 'kernel' and
            not conv.act_scale and conv.scale_kind != 'spatial' and conv.groups == 1 and
            conv.dilation == (1, 1))


def _norm_ok(norm: nn.Module, channels: int) -> bool:
    return (type(norm) is nn.BatchNorm2d and not norm.training and
            norm.running_mean is not None and norm.num_features == channels)


def _step(conv: nn.Module, norm: nn.Module, act: nn.Module) -> Optional[_ConvStep]:
    if not (_conv_ok(conv) and _norm_ok(norm, conv.out_channels)):
        return None
    acts = _activation([act], conv.out_channels)
    if acts is None:
        return None
    wt, tp = conv._kernel_buffers()
    return _ConvStep(conv, wt, tp, _f32(conv.scale), _f32(conv.bias), _f32(conv.in_alpha),
                     _f32(conv.in_beta), *post_norm_terms(norm), *acts)


def _child(block: nn.Module, name: str):
    """``getattr(block, name)``, without ``nn.Module.__getattr__`` for submodules (it costs
    ~2 us a call, a noticeable part of a small fused block)."""
    mods = block._modules
    return mods[name] if name in mods else getattr(block, name)


class _BlockPlan:
    """The fused steps of one block and what they were derived from (modules, and the identity
    and version of every parameter and buffer they read), plus the kernel arguments per input
    shape: a call then checks the state and makes one foreign call per conv."""

    def __init__(self, mods: tuple, skip, parts) -> None:
        self.mods, self.skip, self.parts = mods, skip, parts
        self.state = TensorSlots(mods[:6])
        self.calls: dict = {}  # (input shape, threads, ...) -> (plan 1, plan 2, next norm)

    def valid(self, block: nn.Module, attrs: Tuple[str, ...]) -> bool:
        for a, m in zip(attrs[:7], self.mods):
            if _child(block, a) is not m:
                return False
        if attrs[7] and getattr(block, attrs[7]) != self.skip:
            return False
        if self.mods[1].training or self.mods[4].training:  # the norms (exported convs keep
            return False                                   # nn.Module's default flag)
        return self.state.unchanged()


def _plan(block: nn.Module) -> Optional[_BlockPlan]:
    attrs = BASIC_BLOCKS.get(type(block))
    if attrs is None or block.training:
        return None
    cached = block.__dict__.get('_basic_block_plan')
    if cached is not None and cached.valid(block, attrs):
        return cached
    mods = tuple(_child(block, a) for a in attrs[:7])
    skip = getattr(block, attrs[7]) if attrs[7] else None
    parts = None
    if not attrs[7] or skip == 'conv':
        s1, s2 = _step(*mods[:3]), _step(*mods[3:6])
        if s1 is not None and s2 is not None and \
                s1.conv.out_channels == s2.conv.in_channels == s2.conv.out_channels:
            parts = (s1, s2)
    plan = _BlockPlan(mods, skip, parts)
    block.__dict__['_basic_block_plan'] = plan
    return plan


def basic_block_parts(block: nn.Module) -> Optional[Tuple[_ConvStep, _ConvStep]]:
    """The two fused conv steps of a registered Bi-Real block that fits, else None (cached
    on the block, rebuilt when a module, parameter or buffer it read changes)."""
    plan = _plan(block)
    return None if plan is None else plan.parts


def _step_plan(step: _ConvStep, shape: Tuple[int, int, int, int], packed_input: bool,
               next_norm: Optional[Tuple[Tensor, Tensor]], want_bits: bool,
               threads: int) -> KernelPlan:
    """The kernel plan of one conv step in the Bi-Real order (residual, post-conv BatchNorm,
    activation; the sign bits of ``next_norm(output)`` when ``want_bits``) on an input of
    ``shape`` (N, C, H, W), float or (``packed_input``) packed."""
    conv = step.conv
    ia, ib = (None, None) if packed_input else (step.in_alpha, step.in_beta)
    na, nb = next_norm if next_norm is not None else (None, None)
    return KernelPlan(**conv_plan_args(conv, shape, threads, _isa(None), step.wt, step.tap_pop,
                                       step.scale, step.bias, ia, ib),
                      packed_input=packed_input, act_pos=step.act_pos, act_neg=step.act_neg,
                      next_bits=want_bits, next_alpha=na, next_beta=nb, residual=True,
                      post_alpha=step.post_alpha, post_beta=step.post_beta, order=1)


def _run_step(plan: KernelPlan, x: Optional[Tensor], xbits: Optional[Tensor],
              residual: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
    """One kernel call of a step's plan (:func:`_step_plan`) on ``x`` or its packed bits
    ``xbits``; returns (float output, packed sign bits or None)."""
    out = torch.empty(*plan.out_shape)
    n, o, oh, ow = plan.out_shape
    bits = torch.empty(n, oh, ow, (o + 63) // 64, dtype=torch.int64) \
        if plan.args['next_bits'] else None  # (every word is written)
    rc = plan.run(None if xbits is not None else x.data_ptr(), _ptr(xbits), out.data_ptr(),
                  _ptr(bits), residual.data_ptr())
    if rc != 0:
        raise ValueError(f'bnn_conv2d_run rejected its arguments (code {rc})')
    return out, bits


def _in_norm(step: _ConvStep) -> Optional[Tuple[Tensor, Tensor]]:
    """The folded input BatchNorm of a step's conv, or None."""
    return None if step.in_alpha is None else (step.in_alpha, step.in_beta)


def _fused(block: nn.Module, x: Tensor, xbits: Optional[Tensor] = None,
           next_step: Optional[_ConvStep] = None,
           plan: Optional[_BlockPlan] = None) -> Optional[Tuple[Tensor, Optional[Tensor]]]:
    """The fused block on ``x`` (and its packed sign bits ``xbits``, when given); with
    ``next_step`` also the packed input bits of that step's conv. None when the block or the
    input does not fit. ``plan``: the block's :func:`_plan`, when the caller has it."""
    if plan is None:
        plan = _plan(block)
    if plan is None or plan.parts is None or x.dim() != 4 or x.dtype != torch.float32 or \
            x.device.type != 'cpu':
        return None
    s1, s2 = plan.parts
    if x.shape[1] != s1.conv.in_channels:
        return None
    threads = torch.get_num_threads()
    nxt = _in_norm(next_step) if next_step is not None else None
    key = (tuple(x.shape), threads, xbits is not None, next_step is not None,
           None if nxt is None else (nxt[0].data_ptr(), nxt[1].data_ptr()))
    calls = plan.calls.get(key)
    if calls is None:
        n, _, h, w = x.shape
        oh, ow = conv_out_size(h, w, s1.conv.kernel_size, s1.conv.stride, s1.conv.padding,
                               s1.conv.dilation)
        if conv_out_size(oh, ow, s2.conv.kernel_size, s2.conv.stride,
                         s2.conv.padding, s2.conv.dilation) != (oh, ow):
            return None
        mid_shape = (n, s1.conv.out_channels, oh, ow)
        calls = plan.calls[key] = (
            _step_plan(s1, tuple(x.shape), xbits is not None, _in_norm(s2), True, threads),
            _step_plan(s2, mid_shape, True, nxt, next_step is not None, threads), nxt)
    x = x.contiguous()
    down = plan.mods[6]
    identity = x if down is None else down(x)
    if identity.shape != calls[0].out_shape or identity.dtype != torch.float32:
        return None
    identity = identity.contiguous()
    y, ybits = _run_step(calls[0], x, xbits, identity)
    return _run_step(calls[1], None, ybits, y)


def fused_basic_block_forward(block: nn.Module, x: Tensor) -> Tensor:
    """Forward of a registered Bi-Real block as two packed kernel calls; the block's own
    forward for anything that does not fit. (N, C_in, H, W) -> (N, C_out, H', W')."""
    res = _fused(block, x)
    return type(block).forward(block, x) if res is None else res[0]


def fused_sequential_forward(seq: nn.Sequential, x: Tensor) -> Tensor:
    """Forward of an ``nn.Sequential`` whose fusable Bi-Real blocks pass their output's sign
    bits on to the next fusable block (its first conv then skips packing the float input).
    Other children run their own forward."""
    kids = list(seq)
    plans = [_plan(k) if type(k) in BASIC_BLOCKS else None for k in kids] + [None]
    bits: Optional[Tensor] = None
    for i, kid in enumerate(kids):
        following = plans[i + 1]
        nxt = None if following is None or following.parts is None else following.parts[0]
        res = _fused(kid, x, bits, nxt, plans[i]) if plans[i] is not None else None
        if res is None:
            x, bits = kid(x), None
        else:
            x, bits = res
    return x


@functools.lru_cache(maxsize=None)
def kernel_rounds_like_torch() -> bool:
    """Whether the kernel's Bi-Real epilogue (``conv * s``, the BatchNorm after the conv,
    ``+ residual``, PReLU) gives the float model's values bit for bit on this machine, checked
    once per process on a 64-channel 3x3 layer with random statistics against torch's
    ``BatchNorm2d`` and ``PReLU``. :func:`chain_basic_blocks` fuses nothing when it does not
    (e.g. a kernel that rounds ``v * alpha + beta`` twice where torch's vectorised BatchNorm
    uses one fused multiply-add)."""
    import copy
    g = torch.Generator().manual_seed(14)
    c, h = 64, 8
    conv = PackedBinaryConv2d.from_signs(
        torch.randint(0, 2, (c, c, 3, 3), generator=g).float() * 2 - 1,
        scale=torch.rand(c, generator=g) + 0.01, padding=1)
    norm = nn.BatchNorm2d(c).eval()
    act = nn.PReLU(c)
    with torch.no_grad():
        norm.running_mean.uniform_(-30, 30, generator=g)
        norm.running_var.uniform_(0.1, 400, generator=g)
        norm.weight.uniform_(-2, 2, generator=g)
        norm.bias.uniform_(-2, 2, generator=g)
        act.weight.uniform_(-1, 1, generator=g)
        x = torch.randn(1, c, h, h, generator=g)
        res = torch.randn(1, c, h, h, generator=g)
        ref_conv = copy.deepcopy(conv)
        ref_conv.backend = 'torch'
        ref = act(norm(ref_conv(x)) + res)
    step = _step(conv, norm, act)
    out, _ = _run_step(_step_plan(step, tuple(x.shape), False, None, False, 1), x, None, res)
    return torch.equal(out, ref)


def chain_basic_blocks(model: nn.Module) -> List[str]:
    """Make every registered Bi-Real block of an exported ``model`` that fits run as two packed
    kernel calls (its forward is replaced on the instance; no parameter or buffer changes).

    Returns:
        the names of the fused blocks.
    """
    names = []
    for name, module in model.named_modules():
        if type(module) in BASIC_BLOCKS and basic_block_parts(module) is not None:
            if not kernel_rounds_like_torch():
                warnings.warn('chain_basic_blocks: the kernel rounds the BatchNorm after a '
                              'binary conv differently from torch on this machine; Bi-Real '
                              'blocks keep their own forward (exact, unfused)')
                return []
            module.forward = functools.partial(fused_basic_block_forward, module)
            names.append(name)
    return names


def chain_basic_layers(model: nn.Module) -> List[str]:
    """:func:`chain_basic_blocks`, then :func:`chain_basic_sequentials`.

    Returns:
        the names of the fused blocks and of the chained sequentials.
    """
    names = chain_basic_blocks(model)
    return names + chain_basic_sequentials(model) if names else names


def chain_basic_sequentials(model: nn.Module) -> List[str]:
    """Make every ``nn.Sequential`` of ``model`` holding two or more consecutive fusable
    Bi-Real blocks run :func:`fused_sequential_forward` (sign bits passed between blocks). Call
    after :func:`chain_basic_blocks` (which checks that the kernel rounds like torch).

    Returns:
        the names of the chained sequentials.
    """
    names = []
    for name, module in list(plain_sequentials(model)):
        fusable = [type(k) in BASIC_BLOCKS and basic_block_parts(k) is not None for k in module]
        if any(a and b for a, b in zip(fusable, fusable[1:])):
            module.forward = functools.partial(fused_sequential_forward, module)
            names.append(name)
    return names
