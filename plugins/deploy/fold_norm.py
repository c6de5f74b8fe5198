"""Fold ``BatchNorm -> sign`` into the sign packing of the next packed binary conv.

In the binary-friendly ``BN -> (binary) conv`` order of the HPM / bottleneck blocks
(:class:`plugins.pose.layers.PreActConv`) the BatchNorm output is read only by the binary
conv, which keeps only its sign. Folding the BatchNorm into the conv's packing
(:meth:`PackedBinaryConv2d.fold_input_norm`) removes a full float pass (read + write of the
activation) per binary layer; the norm module becomes ``nn.Identity``.

Patterns folded (a registry, not an if-chain; add a block type with :func:`register_fold`):

* a module with ``norm -> act -> conv`` attributes whose forward is ``conv(act(norm(x)))``
  (registered: ``PreActConv``) where ``act`` is ``nn.Identity``;
* inside an ``nn.Sequential``: ``BatchNorm2d``, optional ``nn.Identity``, packed conv.

The conv is a :class:`PackedBinaryConv2d` or a :class:`PackedWithPostAct` around one (the post
activation acts on the conv output and is unaffected). Layers with XNOR-Net's activation factor
``K`` (``act_scale``) read ``|BN(x)|`` and are not folded.
"""
from __future__ import annotations

from typing import List, Optional

from torch import nn

from .block_patterns import BlockPatterns
from .packed_conv import PackedBinaryConv2d

# block class -> (norm attribute, activation attribute, conv attribute)
FOLDABLE_BLOCKS = BlockPatterns([('plugins.pose.layers:PreActConv', ('norm', 'act', 'conv'))])


def register_fold(cls: type, norm: str = 'norm', act: str = 'act', conv: str = 'conv') -> type:
    """Declare that ``cls.forward`` computes ``conv(act(norm(x)))`` and nothing else reads the
    norm output, so the norm may be folded into a packed ``conv``."""
    return FOLDABLE_BLOCKS.register(cls, (norm, act, conv))


def _packed(conv: nn.Module) -> Optional[PackedBinaryConv2d]:
    from .export import PackedWithPostAct
    if isinstance(conv, PackedWithPostAct):
        conv = conv[0]
    if isinstance(conv, PackedBinaryConv2d) and not conv.act_scale and not conv.input_norm:
        return conv
    return None


def _foldable_norm(norm: nn.Module) -> bool:
    return (type(norm) is nn.BatchNorm2d and not norm.training
            and norm.running_mean is not None)


def fold_input_norms(model: nn.Module) -> List[str]:
    """Fold every foldable ``BatchNorm2d -> packed binary conv`` pair of ``model`` in place.

    Args:
        model: an exported model (:func:`plugins.deploy.export_binary`), in eval mode.

    Returns:
        the names of the norms that were folded (now ``nn.Identity``).
    """
    folded = []
    for name, module in model.named_modules():
        prefix = f'{name}.' if name else ''
        attrs = FOLDABLE_BLOCKS.get(type(module))
        if attrs is not None:
            norm_n, act_n, conv_n = attrs
            norm, act = getattr(module, norm_n), getattr(module, act_n)
            conv = _packed(getattr(module, conv_n))
            if conv is not None and isinstance(act, nn.Identity) and _foldable_norm(norm):
                conv.fold_input_norm(norm)
                setattr(module, norm_n, nn.Identity())
                conv.folded_norm = prefix + norm_n
                folded.append(prefix + norm_n)
        elif type(module) is nn.Sequential:
            kids = list(module.named_children())
            for i, (n, child) in enumerate(kids):
                if not _foldable_norm(child):
                    continue
                j = i + 1
                while j < len(kids) and isinstance(kids[j][1], nn.Identity):
                    j += 1
                conv = _packed(kids[j][1]) if j < len(kids) else None
                if conv is not None:
                    conv.fold_input_norm(child)
                    setattr(module, n, nn.Identity())
                    conv.folded_norm = prefix + n
                    folded.append(prefix + n)
    return folded
