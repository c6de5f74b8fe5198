"""``export_binary(model)``: swap every trained binary convolution (and binary linear layer) for
a packed inference layer.

Only layers that are binary at inference (sign activations *and* sign weights,
``binary_mix == 1``) are packed; every other module (the real first and last layers, norms,
heads ...) is kept as it is, so a model keeps its real-valued stem and classifier, as in the
papers. The source model is not modified (the result is a deep copy in ``eval`` mode).

A layer is recognised by duck typing on the interface of ``plugins.binary.BinaryConv2d``:
``export()`` returning ``weight_sign``, ``scale``, ``bias``, ``binary_acts``, ``act_scale``,
``post_act``, ``stride``, ``padding``, ``dilation``, ``groups``, ``padding_mode``.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import torch.nn.functional as F
from torch import Tensor, nn

from .packed_conv import PackedBinaryConv2d
from .packed_linear import PackedBinaryLinear

__all__ = [
    'export_binary', 'ExportReport', 'PackedWithPostAct', 'fuse_for_inference', 'is_binary_conv',
    'is_binary_linear'
]


class PackedWithPostAct(nn.Sequential):
    """A packed conv followed by the layer's post activation (``ChannelPReLU`` ...).

    Also handles ``padding_mode`` other than ``'zeros'``: the real input is padded with that
    mode first (the sign of a reflected value is the reflected sign), then the packed conv runs
    without padding.
    """

    def __init__(self,
                 conv: PackedBinaryConv2d,
                 post_act: Optional[nn.Module] = None,
                 pre_pad: Optional[Tuple[Tuple[int, int, int, int], str]] = None) -> None:
        mods = [conv] + ([post_act] if post_act is not None else [])
        super().__init__(*mods)
        self.pre_pad = pre_pad

    def forward(self, x: Tensor) -> Tensor:
        if self.pre_pad is not None:
            x = F.pad(x, self.pre_pad[0], mode=self.pre_pad[1])
        return super().forward(x)


@dataclass
class ExportReport:
    """What :func:`export_binary` did: packed layer names, real layers kept, skipped layers."""

    packed: List[str] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    folded_norms: List[str] = field(default_factory=list)
    chained: List[str] = field(default_factory=list)
    binary_bits: int = 0

    def __str__(self) -> str:
        lines = [
            f'packed {len(self.packed)} binary convolutions '
            f'({self.binary_bits} weight bits), folded {len(self.folded_norms)} BatchNorms '
            f'into their sign packing'
        ]
        if self.chained:
            lines.append(f'  {len(self.chained)} blocks run as packed chains')
        lines += [f'  kept real: {n} ({why})' for n, why in self.skipped]
        return '\n'.join(lines)


def is_binary_conv(module: nn.Module) -> bool:
    """True for a 2-D binary conv with the ``BinaryConv2d`` export interface."""
    return (callable(getattr(module, 'export', None)) and hasattr(module, 'binary_weight')
            and isinstance(module, nn.Conv2d))


def is_binary_linear(module: nn.Module) -> bool:
    """True for a binary fully connected layer with the ``BinaryLinear`` export interface."""
    return (callable(getattr(module, 'export', None)) and hasattr(module, 'binary_weight')
            and isinstance(module, nn.Linear))


def _check_act_quantizer(module: nn.Module) -> None:
    """The kernel packs ``sign(x)``: an activation quantiser that centres its input first
    (an input-dependent mean) is not reproducible by it."""
    center = getattr(getattr(module, 'act_quantizer', None), 'center', None)
    if center is not None:
        raise ValueError(f'the activation quantiser centres its input (center={center!r}); '
                         f'the packed kernel reads sign(x) only')


def pack_linear(module: nn.Module, backend: str = 'kernel') -> nn.Module:
    """The packed replacement of one ``BinaryLinear`` (see :func:`pack_layer`)."""
    spec = module.export()
    if not spec['binary_acts']:
        raise ValueError('activations are real (act_quantizer None or Identity): not an '
                         'XNOR layer')
    _check_act_quantizer(module)
    layer = PackedBinaryLinear.from_linear_signs(spec['weight_sign'].float(), spec['scale'],
                                                 spec['bias'], backend)
    post_act = spec['post_act']
    return layer if post_act is None else PackedWithPostAct(layer, copy.deepcopy(post_act))


def _same_padding(kernel_size, dilation) -> Tuple[int, int]:
    pads = []
    for k, d in zip(kernel_size, dilation):
        total = d * (k - 1)
        if total % 2:
            raise ValueError(f"padding='same' with kernel {tuple(kernel_size)} and dilation "
                             f"{tuple(dilation)} pads asymmetrically; not supported by export")
        pads.append(total // 2)
    return tuple(pads)


def pack_layer(module: nn.Module, backend: str = 'kernel') -> nn.Module:
    """The packed inference replacement of one binary conv.

    Args:
        module: a ``BinaryConv2d`` (eval state: its learned scale must be resolved).
        backend: ``'kernel'`` or ``'torch'`` (see :class:`PackedBinaryConv2d`).

    Returns:
        :class:`PackedBinaryConv2d`, or :class:`PackedWithPostAct` when the layer has a post
        activation or a non-zero padding mode.

    Raises:
        ValueError: the layer's activations are not binary, or its padding is not supported.
    """
    spec = module.export()
    if not spec['binary_acts']:
        raise ValueError('activations are real (act_quantizer None or Identity): not an '
                         'XNOR layer')
    _check_act_quantizer(module)
    padding = spec['padding']
    if padding == 'valid':
        padding = (0, 0)
    elif padding == 'same':
        padding = _same_padding(module.kernel_size, spec['dilation'])
    mode = spec.get('padding_mode', 'zeros')
    pre_pad = None
    if mode != 'zeros' and any(padding):
        pre_pad = ((padding[1], padding[1], padding[0], padding[0]), mode)
        padding = (0, 0)
    signs = spec['weight_sign'].float()
    layer = PackedBinaryConv2d.from_signs(signs,
                                          scale=spec['scale'],
                                          bias=spec['bias'],
                                          act_scale=spec['act_scale'],
                                          stride=spec['stride'],
                                          padding=padding,
                                          dilation=spec['dilation'],
                                          groups=spec['groups'],
                                          pad_value=0,
                                          backend=backend)
    if pre_pad is not None and spec['act_scale']:
        raise ValueError(f'act_scale with padding_mode {mode!r} is not supported by export')
    post_act = spec['post_act']
    if post_act is not None or pre_pad is not None:
        return PackedWithPostAct(layer, copy.deepcopy(post_act), pre_pad)
    return layer


def set_backend(model: nn.Module, backend: str) -> nn.Module:
    """Switch every packed layer of ``model`` to ``'kernel'`` or ``'torch'`` (e.g. on a machine
    without a C++ compiler). Returns ``model``."""
    if backend not in ('kernel', 'torch'):
        raise ValueError(f"backend {backend!r} not allowed; allowed: ['kernel', 'torch']")
    for m in model.modules():
        if isinstance(m, PackedBinaryConv2d):
            m.backend = backend
    return model


def export_binary(model: nn.Module,
                  backend: str = 'kernel',
                  strict: bool = False,
                  report: Optional[ExportReport] = None,
                  fold_norms: bool = True,
                  chain: bool = True) -> nn.Module:
    """Inference copy of ``model`` with every binary conv replaced by a packed layer.

    Args:
        model: any ``nn.Module`` containing ``BinaryConv2d`` layers (in a fully binary state).
            Layers with chw/rank1 learned scales must have been resolved (trained or run once).
        backend: ``'kernel'`` (compiled XNOR-popcount) or ``'torch'``.
        strict: raise instead of keeping a binary-weight layer with real activations.
        report: an :class:`ExportReport` to fill (packed and kept layer names).
        fold_norms: fold each eval BatchNorm that only feeds a packed conv into that conv's
            sign packing (:mod:`plugins.deploy.fold_norm`).
        chain: run registered blocks (the HPM block) as packed chains
            (:mod:`plugins.deploy.chain`: activations stay packed between their binary convs,
            concatenation in place, residual and activation in the kernel's epilogue), and
            max-pooling on a channels-last copy (:mod:`plugins.deploy.pooling`; same values).

    Returns:
        the exported model (a deep copy, in eval mode).
    """
    out = copy.deepcopy(model).eval()
    report = ExportReport() if report is None else report
    for name, module in list(out.named_modules()):
        for child_name, child in list(module.named_children()):
            if not (is_binary_conv(child) or is_binary_linear(child)):
                continue
            full = f'{name}.{child_name}' if name else child_name
            try:
                packed = (pack_layer if is_binary_conv(child) else pack_linear)(child, backend)
            except ValueError as e:
                if strict:
                    raise ValueError(f'{full}: {e}') from e
                warnings.warn(f'export_binary: keeping {full} as it is: {e}')
                report.skipped.append((full, str(e)))
                continue
            setattr(module, child_name, packed)
            report.packed.append(full)
            report.binary_bits += child.binary_weight().numel()
    if fold_norms:
        from .fold_norm import fold_input_norms
        report.folded_norms += fold_input_norms(out)
    if chain and backend == 'kernel':
        report.chained += fuse_for_inference(out)
    return out


def fuse_for_inference(model: nn.Module) -> List[str]:
    """The run-time passes of an exported ``model``, in place: registered HPM blocks as packed
    chains (:mod:`plugins.deploy.chain`), registered Bi-Real blocks as fused kernel calls
    (:mod:`plugins.deploy.basic_block_chain`), max/average pooling without layout copies
    (:mod:`plugins.deploy.pooling`) and real ``1x1 conv -> BatchNorm`` pairs in C++ where that
    equals torch bit for bit and is faster (:mod:`plugins.deploy.exact_conv1x1`). They replace
    forwards only: the same values, no parameter
    or buffer changes, so :func:`load_packed` runs them again after loading.

    Returns:
        the names of the fused blocks.
    """
    from .basic_block_chain import chain_basic_blocks, chain_basic_sequentials
    from .chain import chain_blocks
    from .exact_conv1x1 import exact_conv1x1s
    from .pooling import fast_pooling
    names, basic = chain_blocks(model), chain_basic_blocks(model)
    if basic:  # (empty too when the kernel does not round like torch)
        chain_basic_sequentials(model)  # stages pass sign bits between their blocks
    names += basic
    fast_pooling(model)
    exact_conv1x1s(model)
    return names
