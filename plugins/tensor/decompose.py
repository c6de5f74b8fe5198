"""Decomposition of a dense tensor (e.g. a trained convolution kernel) into CP or Tucker form.

Used by ``from_conv`` of the factorised convolutions. CP uses TensorLy's ALS
(:func:`tensorly.decomposition.parafac`); when the rank reaches the trivial upper bound
(the product of all dimensions except the largest) the exact decomposition is written down
directly instead, so a "full-rank" CP layer reproduces the dense kernel to float precision.
Tucker uses TensorLy's HOOI (:func:`tensorly.decomposition.tucker`), which is exact at full
multilinear rank.
"""
from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import tensorly as tl
import torch
from tensorly.decomposition import parafac, tucker


def cp_full_rank(shape: Sequence[int]) -> int:
    """The rank at which an exact CP decomposition exists trivially: prod(shape) / max(shape)."""
    return math.prod(shape) // max(shape)


def _cp_exact(tensor: torch.Tensor, rank: int) -> List[torch.Tensor]:
    """Exact CP: one rank-one term per index of all modes but the largest one."""
    shape = tensor.shape
    big = max(range(len(shape)), key=lambda m: shape[m])
    others = [m for m in range(len(shape)) if m != big]
    n_terms = math.prod(shape[m] for m in others)
    # columns of the big mode: tensor with the big mode last, flattened over the others
    unfolded = tensor.permute(*others, big).reshape(n_terms, shape[big])
    factors = []
    grid = torch.cartesian_prod(*[torch.arange(shape[m]) for m in others]).reshape(n_terms, -1)
    for mode in range(len(shape)):
        factor = torch.zeros(shape[mode], rank, dtype=tensor.dtype)
        if mode == big:
            factor[:, :n_terms] = unfolded.t()
        else:
            pos = others.index(mode)
            factor[grid[:, pos], torch.arange(n_terms)] = 1.0
            if rank > n_terms:  # spare terms: zero in the big mode, so they add nothing
                factor[:, n_terms:] = torch.randn(shape[mode], rank - n_terms) * 0.1
        factors.append(factor)
    return factors


def cp_decompose(tensor: torch.Tensor, rank: int, n_iter_max: int = 100,
                 seed: int = 0) -> List[torch.Tensor]:
    """CP decomposition ``tensor ~= sum_r factors[0][:, r] o factors[1][:, r] o ...``.

    Args:
        tensor: dense tensor, e.g. a kernel of shape (out, in, k_1, ..., k_d).
        rank: CP rank.
        n_iter_max: ALS iterations (ignored when the rank allows the exact form).
        seed: random state of the ALS initialisation.

    Returns:
        one factor per mode, of shape (shape[mode], rank); the CP weights are absorbed into the
        first factor.
    """
    tensor = tensor.detach().float().cpu()
    if rank >= cp_full_rank(tensor.shape):
        return _cp_exact(tensor, rank)
    with tl.backend_context('pytorch'):
        init = 'svd' if rank <= min(tensor.shape) else 'random'
        cp = parafac(tensor, rank, n_iter_max=n_iter_max, init=init, random_state=seed,
                     normalize_factors=False)
        weights, factors = cp
    factors = [f.clone() for f in factors]
    factors[0] = factors[0] * weights[None, :]
    return factors


def tucker_decompose(tensor: torch.Tensor, ranks: Sequence[int],
                     n_iter_max: int = 50) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """Tucker decomposition ``tensor ~= core x_0 factors[0] x_1 factors[1] ...``.

    Args:
        tensor: dense tensor of shape (s_0, ..., s_n).
        ranks: one rank per mode (``ranks[m] <= s_m``).
        n_iter_max: HOOI iterations.

    Returns:
        ``(core, factors)``: core of shape ``ranks``, factors of shape (s_m, ranks[m]).
    """
    tensor = tensor.detach().float().cpu()
    with tl.backend_context('pytorch'):
        core, factors = tucker(tensor, rank=list(ranks), n_iter_max=n_iter_max, init='svd')
    return core.clone(), [f.clone() for f in factors]
