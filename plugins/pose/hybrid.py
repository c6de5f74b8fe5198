"""HourGlass/U-Net hybrid of "Toward fast and accurate human pose estimation via soft-gated
skip connections" (Bulat, Kossaifi, Tzimiropoulos & Pantic, FG 2020).

The hourglass processes its skip (upper) branch with residual blocks and adds it to the
upsampled lower branch, so features cross every scale through identity connections. The
hybrid minimises those: the skip branch carries the features directly (optionally through a
per-channel soft gate) and is *concatenated* with the upsampled lower branch, as in U-Net;
one block then maps the ``2C`` concatenation back to ``C`` (a projection, not an identity).
The options expose the choices the paper ablates: what the skip branch is
(``'identity' | 'gated' | 'block'``), how it merges (``'concat' | 'add'``), the upsampling,
and (through the block config) the block type and its gated skips.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .gated_skip import SoftGatedSkip
from .layers import PreActConv
from .hourglass import _check_common, make_blocks, upsample2x
from ..ops.resample import max_pool2x2, upsample2x_add
from .registry import HOURGLASS_MODULES, build_block

SKIP_BRANCHES = ('identity', 'gated', 'block')
MERGES = ('concat', 'add')
MERGE_LAYERS = ('block', 'conv')


@HOURGLASS_MODULES.register_module()
class HybridHourglassModule(nn.Module):
    """One HourGlass/U-Net hybrid encoder/decoder.

    At each level: ``skip = S(x)``; ``low = up(inner(blocks(pool(x))))``;
    ``out = merge_block(cat(skip, low))`` (or ``merge_block(skip + low)``).

    Args:
        depth: number of 2x downsamplings.
        channels: feature channels ``C``.
        block: block config.
        num_blocks: blocks per encoder position.
        skip_branch: ``'identity'`` (U-Net), ``'gated'`` (per-channel soft gate, the paper's
            choice) or ``'block'`` (hourglass-style residual blocks on the skip branch).
        merge: ``'concat'`` (U-Net, the merge block maps 2C -> C) or ``'add'`` (hourglass).
        upsample: ``'nearest'`` or ``'bilinear'``.
        merge_layer: what follows the merge: ``'block'`` (a residual block, ``2C -> C`` for
            concat) or ``'conv'`` (a ``BN -> ReLU -> 1x1 conv`` projection, the lightest
            U-Net-style fusion).

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``; ``H, W`` divisible by ``2**depth``.
    """

    def __init__(self, depth: int, channels: int, block: dict, num_blocks: int = 1,
                 skip_branch: str = 'gated', merge: str = 'concat',
                 upsample: str = 'nearest', merge_layer: str = 'block') -> None:
        super().__init__()
        _check_common(depth, num_blocks, upsample)
        if skip_branch not in SKIP_BRANCHES:
            raise ValueError(f'unknown skip_branch {skip_branch!r}; allowed: '
                             f'{list(SKIP_BRANCHES)}')
        if merge not in MERGES:
            raise ValueError(f'unknown merge {merge!r}; allowed: {list(MERGES)}')
        if merge_layer not in MERGE_LAYERS:
            raise ValueError(f'unknown merge_layer {merge_layer!r}; allowed: '
                             f'{list(MERGE_LAYERS)}')
        self.merge, self.upsample = merge, upsample
        if skip_branch == 'identity':
            self.skip = nn.Identity()
        elif skip_branch == 'gated':
            self.skip = SoftGatedSkip(channels)
        else:
            self.skip = make_blocks(block, channels, channels, num_blocks)
        self.down = make_blocks(block, channels, channels, num_blocks)
        self.inner = (HybridHourglassModule(depth - 1, channels, block, num_blocks,
                                            skip_branch, merge, upsample, merge_layer)
                      if depth > 1 else make_blocks(block, channels, channels, num_blocks))
        merge_in = 2 * channels if merge == 'concat' else channels
        self.merge_block = (build_block(block, merge_in, channels) if merge_layer == 'block'
                            else PreActConv(merge_in, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        skip = self.skip(x)
        low = self.inner(self.down(max_pool2x2(x)))
        merged = (torch.cat([skip, upsample2x(low, self.upsample)], 1) if self.merge == 'concat'
                  else upsample2x_add(skip, low, self.upsample))
        return self.merge_block(merged)
