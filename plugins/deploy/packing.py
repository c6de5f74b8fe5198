"""Bit-packing of sign tensors into 64-bit machine words along the ``Cg * KH * KW`` axis.

Storage format (saved in packed files, see docs/deploy.md):

* a sign ``+1`` is bit 1, ``-1`` is bit 0 (the float sign bit inverted, so ``-0.0`` is ``-1``
  as in :func:`plugins.binary.quantizers.sign_bit`);
* filter ``o`` is flattened tap-major, channel-minor: ``k = (kh * KW + kw) * Cg + c``;
* the ``K = Cg * KH * KW`` bits are packed LSB-first into ``ceil(K / 64)`` little-endian
  64-bit words, the unused high bits of the last word are 0;
* words are stored as ``torch.int64`` (same bits; torch has no full ``uint64`` support).

The kernel uses a blocked copy of the same bits (:func:`kernel_layout`), built at load time.
"""
from __future__ import annotations

import numpy as np
import torch

WORD_BITS = 64
LANES = 32  # output channels per weight block in the kernel layout


def num_words(bits: int) -> int:
    """Number of 64-bit words that hold ``bits`` bits."""
    return (bits + WORD_BITS - 1) // WORD_BITS


def pack_signs(signs: torch.Tensor) -> torch.Tensor:
    """Pack a conv weight of signs into words.

    Args:
        signs: (O, Cg, KH, KW) real tensor; its sign bits are packed (+1 for ``x >= +0.0``).

    Returns:
        (O, ceil(Cg*KH*KW / 64)) int64 tensor of packed bits.
    """
    if signs.dim() != 4:
        raise ValueError(f'pack_signs expects (O, Cg, KH, KW), got shape {tuple(signs.shape)}')
    o = signs.shape[0]
    bits = (~torch.signbit(signs.detach())).permute(0, 2, 3, 1).reshape(o, -1).cpu().numpy()
    k = bits.shape[1]
    padded = np.zeros((o, num_words(k) * WORD_BITS), dtype=np.uint8)
    padded[:, :k] = bits
    words = np.packbits(padded, axis=1, bitorder='little').view('<u8').view(np.int64)
    return torch.from_numpy(words.copy())


def unpack_signs(words: torch.Tensor, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """Inverse of :func:`pack_signs`.

    Args:
        words: (O, W) int64 packed words.
        shape: (O, Cg, KH, KW) of the original weight.

    Returns:
        (O, Cg, KH, KW) float32 tensor of +1/-1.
    """
    o, cg, kh, kw = shape
    k = cg * kh * kw
    if tuple(words.shape) != (o, num_words(k)):
        raise ValueError(f'packed words have shape {tuple(words.shape)}, expected '
                         f'{(o, num_words(k))} for a weight of shape {tuple(shape)}')
    u8 = words.contiguous().cpu().numpy().view('<u8').view(np.uint8).reshape(o, -1)
    bits = np.unpackbits(u8, axis=1, bitorder='little')[:, :k].astype(np.float32)
    signs = torch.from_numpy(bits * 2 - 1).reshape(o, kh, kw, cg).permute(0, 3, 1, 2)
    return signs.contiguous()


def kernel_layout(words: torch.Tensor, groups: int) -> torch.Tensor:
    """Blocked copy of the packed weight for the kernel: ``[G][OB][Kwords][32]``.

    Args:
        words: (O, Kwords) int64.
        groups: number of convolution groups G (O divisible by G).

    Returns:
        contiguous int64 tensor of shape (G, ceil(O/G / 32), Kwords, 32); lanes past the last
        output channel of a group are 0.
    """
    o, kw = words.shape
    og = o // groups
    ob = (og + LANES - 1) // LANES
    out = torch.zeros(groups, ob * LANES, kw, dtype=torch.int64)
    out[:, :og] = words.reshape(groups, og, kw)
    return out.reshape(groups, ob, LANES, kw).transpose(2, 3).contiguous()


def tap_popcounts(words: torch.Tensor, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """Number of +1 weights in each tap, for the zero-padding correction.

    Args:
        words: (O, Kwords) packed weight; shape: its (O, Cg, KH, KW).

    Returns:
        (O, KH*KW) int32.
    """
    signs = unpack_signs(words, shape)
    return (signs > 0).sum(1).reshape(shape[0], -1).to(torch.int32).contiguous()
