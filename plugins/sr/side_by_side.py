"""Pictures for the SR GANs: image rows tiled into one grid, and "input | bicubic | ours".

The side-by-side comparison is the figure style of "To learn image super-resolution, use a GAN
to learn how to do image degradation first" (Bulat et al., 2018): the LR input (enlarged with
nearest neighbours so its pixels stay visible), bicubic upsampling, the network output and,
when known, the HR image.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch.nn import functional as F

__all__ = ['tile_rows', 'side_by_side']


def tile_rows(rows: Sequence[torch.Tensor], size: int | None = None, pad: int = 2) -> torch.Tensor:
    """Tile rows of images into one picture.

    Args:
        rows: each (B, 3, h_i, w_i) in [0, 1]; rows may differ in resolution and in B (short rows
            are left blank at the end).
        size: side every image is resized to (nearest neighbour); default: the largest side.
        pad: white pixels between images.

    Returns:
        (3, H, W) picture in [0, 1].
    """
    if not rows:
        raise ValueError('tile_rows needs at least one row')
    size = size or max(max(r.shape[-2:]) for r in rows)
    cols = max(r.shape[0] for r in rows)
    cell = size + pad
    grid = torch.ones(3, len(rows) * cell + pad, cols * cell + pad)
    for i, row in enumerate(rows):
        row = F.interpolate(row.detach().cpu().float(), size=(size, size), mode='nearest')
        for j, image in enumerate(row.clamp(0, 1)):
            top, left = pad + i * cell, pad + j * cell
            grid[:, top:top + size, left:left + size] = image
    return grid


def side_by_side(lr: torch.Tensor, sr: torch.Tensor, hr: torch.Tensor | None = None,
                 extra: Sequence[torch.Tensor] = (), pad: int = 2) -> torch.Tensor:
    """Columns ``input (nearest) | bicubic | ours [| extra ...] [| HR]``, one row per image.

    Args:
        lr: LR inputs (B, 3, h, w) in [0, 1].
        sr: network outputs (B, 3, H, W).
        hr: HR references (B, 3, H, W) or ``None``.
        extra: more (B, 3, H, W) columns placed after ``ours`` (e.g. a baseline network).

    Returns:
        (3, H', W') picture in [0, 1].
    """
    if lr.shape[0] != sr.shape[0]:
        raise ValueError(f'lr and sr batch sizes differ: {lr.shape[0]} vs {sr.shape[0]}')
    bicubic = F.interpolate(lr, size=sr.shape[-2:], mode='bicubic', align_corners=False)
    nearest = F.interpolate(lr, size=sr.shape[-2:], mode='nearest')
    columns = [nearest, bicubic.clamp(0, 1), sr, *extra] + ([hr] if hr is not None else [])
    rows = [torch.stack([c[i] for c in columns]) for i in range(lr.shape[0])]
    return tile_rows(rows, size=max(sr.shape[-2:]), pad=pad)
