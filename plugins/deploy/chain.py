"""Packed chains: consecutive binary convs whose activations stay bit-packed.

In the HPM block ("Hierarchical binary CNNs for landmark localization ...", Bulat &
Tzimiropoulos) each branch reads the previous branch's output and the block returns
``cat(branches) + shortcut(x)``. In an exported model (BatchNorm folded into each conv's
packing) a chained block runs as one kernel call per branch:

* branch ``i`` writes its float output straight into its channel slice of the block's output
  (the concatenation is built in place, no ``torch.cat``) with the shortcut already added
  (the residual addition is in the kernel's epilogue);
* the same epilogue packs the sign bits of branch ``i + 1``'s input (its folded BatchNorm
  applied to the pre-residual output) into 64-bit words, so branch ``i + 1`` never re-reads a
  float tensor: its activations stay packed;
* the per-channel scale, the bias and a ``ChannelPReLU`` / ``PReLU`` / ``LearnableSlope``
  (without shifts) post activation run in the same epilogue.

The call plan of a block (its parts, kernel layouts, contiguous float32 scales and the
argument tuples) is cached per input shape; a call then costs the shortcut, two allocations
and one ``ctypes`` call per branch (the hourglass makes ~38 chained calls per forward, many at
4x4-16x16 where the kernel takes tens of microseconds).

Every float operation is the float model's, in its order (``conv * s + b``, activation, then
``+ residual``; ``-ffp-contract=off``), so a chained block is bit-identical to the unchained
packed block (tested over random shapes and on an exported hourglass). Blocks declare the
pattern through :func:`register_chain`; a block whose parts do not fit (spatial scales,
``act_scale``, grouped convs, a norm that could not be folded, other activations, a real conv
in a branch, the ``'torch'`` backend) keeps its ordinary forward.
"""
from __future__ import annotations

import functools
from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from .block_patterns import BlockPatterns
from .kernel_plan import KernelPlan, conv_plan_args
from .packed_conv import PackedBinaryConv2d, _isa
from .tensor_state import TensorSlots

# block class -> (attribute of the branch list, attribute of the shortcut)
CHAIN_BLOCKS = BlockPatterns([('plugins.pose.hpm:HPMBlock', ('branches', 'shortcut'))])


def register_chain(cls: type, branches: str = 'branches', shortcut: str = 'shortcut') -> type:
    """Declare that ``cls.forward`` computes ``h_0 = x, h_i = branches[i](h_{i-1})`` and returns
    ``cat(h_1..h_k, dim=1) + shortcut(x)`` (``shortcut(x)`` may return None: no addition)."""
    return CHAIN_BLOCKS.register(cls, (branches, shortcut))


def _activation(mods: List[nn.Module], channels: int) -> Optional[Tuple]:
    """``(act_pos, act_neg)`` tensors of a fusable post activation, ``(None, None)`` for none,
    ``None`` when the activations cannot be fused."""
    from plugins.binary.activations import LearnableSlope
    acts = [m for m in mods if not isinstance(m, nn.Identity)]
    if not acts:
        return None, None
    if len(acts) > 1:
        return None
    act = acts[0]
    if type(act) in (nn.PReLU, ) or type(act).__name__ == 'ChannelPReLU':
        w = act.weight.detach().float().reshape(-1)
        return None, (w.expand(channels) if w.numel() == 1 else w).contiguous()
    if isinstance(act, LearnableSlope) and act.b_in is None and act.b_out is None:
        return act.pos.detach().float().contiguous(), act.neg.detach().float().contiguous()
    return None


def _branch_parts(branch: nn.Module) -> Optional[Tuple[PackedBinaryConv2d, Optional[Tensor],
                                                       Optional[Tensor]]]:
    """The packed conv and fused activation of a ``norm -> act -> conv -> post_act`` branch
    whose norm was folded, or None."""
    from .export import PackedWithPostAct
    from .fold_norm import FOLDABLE_BLOCKS
    attrs = FOLDABLE_BLOCKS.get(type(branch))
    if attrs is None:
        return None
    norm, act, conv = (getattr(branch, a) for a in attrs)
    if not (isinstance(norm, nn.Identity) and isinstance(act, nn.Identity)):
        return None
    post = [getattr(branch, 'post_act', nn.Identity())]
    if isinstance(conv, PackedWithPostAct):
        if conv.pre_pad is not None:
            return None
        post = list(conv)[1:] + post
        conv = conv[0]
    if not isinstance(conv, PackedBinaryConv2d) or conv.backend != 'kernel' or \
            conv.act_scale or conv.scale_kind == 'spatial' or conv.groups != 1 or \
            conv.stride != (1, 1) or conv.dilation != (1, 1) or \
            tuple(2 * p for p in conv.padding) != tuple(k - 1 for k in conv.kernel_size):
        return None
    acts = _activation(post, conv.out_channels)
    if acts is None:
        return None
    return (conv, ) + acts


def chained_parts(block: nn.Module) -> Optional[list]:
    """The per-branch ``(conv, act_pos, act_neg)`` of a registered block that can run as a
    packed chain, else None."""
    attrs = CHAIN_BLOCKS.get(type(block))
    if attrs is None:
        return None
    parts = [_branch_parts(b) for b in getattr(block, attrs[0])]
    if not parts or any(p is None for p in parts):
        return None
    for a, b in zip(parts, parts[1:]):
        if a[0].out_channels != b[0].in_channels:
            return None
    return parts


def _ptr(t: Optional[Tensor]) -> Optional[int]:
    return None if t is None else t.data_ptr()


def _f32(t: Optional[Tensor]) -> Optional[Tensor]:
    return None if t is None else t.detach().float().reshape(-1).contiguous()


class _ChainPlan:
    """The kernel plans of a chained block for one input shape, cached on the block.

    Everything but the per-call pointers (input, output, residual, packed bits) is resolved
    once: the parts, the kernel layouts and contiguous float32 scale, bias, norm and slope
    tensors, and one :class:`KernelPlan` per branch (built on first use with and without a
    residual). ``state`` holds the identity and version of every parameter and buffer the plan
    was built from and the identity of the branches' modules, so editing or replacing one
    rebuilds it.
    """

    def __init__(self, block: nn.Module, parts: list, x: Tensor, key: tuple) -> None:
        n, c, h, w = x.shape
        self.key = key
        modules = _plan_modules(block)
        # what a call checks: the children of every module of the branches (a replaced module)
        # and the identity and version of every tensor they hold (a replaced or edited tensor)
        self.links = [(m._modules, list(m._modules.values())) for m in modules if m._modules]
        self.state = TensorSlots(modules)
        self.out_shape = (n, sum(p[0].out_channels for p in parts), h, w)
        self.args, offset = [], 0
        self.words, words = [], 0  # where each branch's next-layer bits start (int64 words)
        isa, threads = _isa(None), torch.get_num_threads()
        for i, (conv, act_pos, act_neg) in enumerate(parts):
            nxt = parts[i + 1][0] if i + 1 < len(parts) else None
            wt, tp = conv._kernel_buffers()
            o = conv.out_channels
            ia, ib = (_f32(conv.in_alpha), _f32(conv.in_beta)) if i == 0 else (None, None)
            na, nb = (_f32(nxt.in_alpha), _f32(nxt.in_beta)) if nxt is not None else (None, None)
            self.args.append(dict(
                conv_plan_args(conv, (n, conv.in_channels, h, w), threads, isa, wt, tp,
                               _f32(conv.scale), _f32(conv.bias), ia, ib),
                packed_input=i > 0, out_ctotal=self.out_shape[1], out_coff=offset,
                act_pos=act_pos, act_neg=act_neg, next_bits=nxt is not None, next_alpha=na,
                next_beta=nb))
            self.words.append(words if nxt is not None else None)
            if nxt is not None:
                words += n * h * w * ((o + 63) // 64)
            offset += o
        self.total_words = words
        self.plans: dict = {}  # with a residual or not -> one KernelPlan per branch

    def branch_plans(self, residual: bool) -> list:
        plans = self.plans.get(residual)
        if plans is None:
            plans = self.plans[residual] = [KernelPlan(**a, residual=residual)
                                            for a in self.args]
        return plans

    def valid(self, block: nn.Module) -> bool:
        branches = getattr(block, CHAIN_BLOCKS.get(type(block))[0])
        return self.links[0][0] is branches._modules and \
            all(list(d.values()) == kids for d, kids in self.links) and self.state.unchanged()


def _plan_modules(block: nn.Module) -> list:
    """The branch list and the branches' modules down to the leaves the plan reads (conv,
    activations)."""
    branches = getattr(block, CHAIN_BLOCKS.get(type(block))[0])
    mods = [branches]
    for branch in branches:
        stack = [branch]
        while stack:
            m = stack.pop()
            mods.append(m)
            stack.extend(m._modules.values())
    return mods


def chained_forward(block: nn.Module, x: Tensor) -> Tensor:
    """Forward of a registered block as a packed chain (falls back to the block's own forward
    for inputs the kernel does not take). (N, C, H, W) -> (N, sum of branch widths, H, W)."""
    if x.dim() != 4 or x.dtype != torch.float32 or x.device.type != 'cpu':
        return type(block).forward(block, x)
    key = (x.shape, torch.get_num_threads(), _isa(None))
    plan = block.__dict__.get('_chain_plan')
    if plan is None or plan.key != key or not plan.valid(block):
        parts = chained_parts(block)
        if parts is None:
            return type(block).forward(block, x)
        if x.shape[1] != parts[0][0].in_channels:
            raise ValueError(f'expected {parts[0][0].in_channels} input channels, got '
                             f'{tuple(x.shape)}')
        plan = _ChainPlan(block, parts, x, key)
        block.__dict__['_chain_plan'] = plan
    shortcut = getattr(block, CHAIN_BLOCKS.get(type(block))[1])
    x = x.contiguous()
    residual = shortcut(x)
    if residual is not None:
        if residual.shape != plan.out_shape:
            return type(block).forward(block, x)
        residual = residual.float().contiguous()
    out = torch.empty(*plan.out_shape)
    bits = torch.empty(plan.total_words, dtype=torch.int64) if plan.total_words else None
    out_p, res_p = out.data_ptr(), _ptr(residual)
    x_p, packed_p = x.data_ptr(), None
    for kplan, word in zip(plan.branch_plans(residual is not None), plan.words):
        next_p = None if word is None else bits.data_ptr() + 8 * word
        rc = kplan.run(x_p, packed_p, out_p, next_p, res_p)
        if rc != 0:
            raise ValueError(f'bnn_conv2d_run rejected its arguments (code {rc}) for {block}')
        x_p, packed_p = None, next_p
    return out


def chain_blocks(model: nn.Module) -> List[str]:
    """Make every registered block of an exported ``model`` that fits run as a packed chain
    (its forward is replaced on the instance; parameters and buffers are unchanged).

    Returns:
        the names of the chained blocks.
    """
    names = []
    for name, module in model.named_modules():
        if type(module) in CHAIN_BLOCKS and chained_parts(module) is not None:
            module.forward = functools.partial(chained_forward, module)
            names.append(name)
    return names


def unchain_blocks(model: nn.Module) -> None:
    """Undo :func:`chain_blocks` (the blocks run their own forward again)."""
    for module in model.modules():
        if isinstance(module.__dict__.get('forward'), functools.partial):
            del module.__dict__['forward']
