"""Rank arguments of the factorised layers: validation and resolution of compression ratios.

A rank is given either as an ``int`` (the CP rank, or the Tucker rank of every channel mode)
or as a ``float`` compression ratio in ``(0, 1]``: the fraction of the dense parameter count
that the factorisation may use. Tucker ranks may also be given explicitly, one per mode.
"""
from __future__ import annotations

import math
from typing import Sequence, Union

RankType = Union[int, float, Sequence[int]]

#: The factorisations the converters and config dicts accept.
FACTORIZATIONS = ('cp', 'tucker')


def check_factorization(name: str) -> str:
    """Normalise a factorisation name (``'CP'``, ``'cp'``, ``'Tucker'`` ...).

    Raises:
        ValueError: the name is not one of :data:`FACTORIZATIONS`.
    """
    key = str(name).lower()
    if key not in FACTORIZATIONS:
        raise ValueError(f'unknown factorization {name!r}; allowed: {list(FACTORIZATIONS)}')
    return key


def _check_ratio(rank: float) -> None:
    if not 0 < rank <= 1:
        raise ValueError(f'rank given as a compression ratio must be a float in (0, 1], '
                         f'got {rank!r} (pass an int for an absolute rank)')


def cp_rank(rank: RankType, shape: Sequence[int]) -> int:
    """The CP rank of a tensor of ``shape`` from an ``int`` rank or a ``float`` ratio.

    A CP tensor of rank ``R`` has ``R * sum(shape)`` parameters, so a ratio ``c`` gives
    ``R = round(c * prod(shape) / sum(shape))`` (at least 1).

    Raises:
        ValueError: ``rank`` is not a positive int or a float in (0, 1].
    """
    if isinstance(rank, bool) or not isinstance(rank, (int, float)):
        raise ValueError(f'CP rank must be an int >= 1 or a float ratio in (0, 1], '
                         f'got {rank!r}')
    if isinstance(rank, float):
        _check_ratio(rank)
        return max(1, round(rank * math.prod(shape) / sum(shape)))
    if rank < 1:
        raise ValueError(f'CP rank must be >= 1, got {rank}')
    return int(rank)


def tucker_params(shape: Sequence[int], ranks: Sequence[int]) -> int:
    """Closed form of the Tucker parameter count: core plus one factor per mode."""
    return math.prod(ranks) + sum(s * r for s, r in zip(shape, ranks))


def tucker_ranks(rank: RankType, shape: Sequence[int], n_channel_modes: int = 2) -> tuple:
    """Tucker ranks for a kernel of ``shape`` = (out, in, k_1, ..., k_d).

    Args:
        rank: an ``int`` (rank of the first ``n_channel_modes`` modes; the kernel modes keep
            full rank), a ``float`` ratio in (0, 1] (the channel ranks are scaled by the same
            fraction of their dimension until the parameters fit the ratio; kernel modes keep
            full rank), or a sequence with one rank per mode.
        shape: the full tensor shape.
        n_channel_modes: how many leading modes are compressed by an int/float rank.

    Returns:
        one rank per mode.

    Raises:
        ValueError: a rank is outside ``[1, dim]`` or the sequence has the wrong length.
    """
    shape = tuple(int(s) for s in shape)
    if isinstance(rank, bool):
        raise ValueError(f'Tucker rank must be an int, a float ratio or a sequence, got {rank!r}')
    if isinstance(rank, (list, tuple)):
        if len(rank) != len(shape):
            raise ValueError(f'Tucker ranks {tuple(rank)} must have one entry per mode of the '
                             f'tensor of shape {shape} ({len(shape)} entries)')
        for r, s in zip(rank, shape):
            if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= s:
                raise ValueError(f'Tucker rank {r!r} out of range for a mode of size {s}: '
                                 f'allowed 1..{s} (ranks {tuple(rank)}, shape {shape})')
        return tuple(rank)
    fixed = shape[n_channel_modes:]
    if isinstance(rank, int):
        if rank < 1:
            raise ValueError(f'Tucker rank must be >= 1, got {rank}')
        return tuple(min(rank, s) for s in shape[:n_channel_modes]) + fixed
    if isinstance(rank, float):
        _check_ratio(rank)
        budget = rank * math.prod(shape)

        def ranks_at(frac: float) -> tuple:
            return tuple(max(1, min(s, round(frac * s))) for s in shape[:n_channel_modes]) + fixed

        lo, hi = 0.0, 1.0
        for _ in range(50):  # largest fraction whose parameter count fits the budget
            mid = (lo + hi) / 2
            if tucker_params(shape, ranks_at(mid)) <= budget:
                lo = mid
            else:
                hi = mid
        return ranks_at(lo)
    raise ValueError(f'Tucker rank must be an int, a float ratio or a sequence, got {rank!r}')
