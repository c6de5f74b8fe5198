"""Decomposition of a dense tensor (e.g. a trained convolution kernel) into CP or Tucker form.

Used by ``from_conv`` of the factorised convolutions.

CP: alternating least squares (CP-ALS, Kolda & Bader, "Tensor Decompositions and
Applications", SIAM Review 2009, sec. 3.4) from a Gaussian random start, stopped when the
relative error improves by less than ``tol`` in one sweep. It is TensorLy's ``parafac``
algorithm with one change that matters for convolution kernels: the matricised-tensor times
Khatri-Rao product (MTTKRP) is contracted one mode at a time, the largest mode first as one
matrix product, instead of forming the Khatri-Rao product explicitly. For a spatial mode of
a 512x512x3x3 kernel at rank 573 the explicit product is a 786,432 x 573 matrix (1.8 GB),
which made one ALS sweep take ~11 s and ``factorize(resnet18(), CPConv rank 0.25)`` hours;
contracted mode by mode a sweep takes ~0.3 s (1 thread). When the rank reaches the trivial
upper bound (the product of all dimensions except the largest) the exact decomposition is
written down directly instead, so a "full-rank" CP layer reproduces the dense kernel to float
precision.

Tucker uses TensorLy's HOOI (:func:`tensorly.decomposition.tucker`), which is exact at full
multilinear rank.
"""
from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import tensorly as tl
import torch
from tensorly.decomposition import tucker


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


def mttkrp(tensor: torch.Tensor, factors: Sequence[torch.Tensor], mode: int) -> torch.Tensor:
    """Matricised tensor times Khatri-Rao product, ``unfold(tensor, mode) @ khatri_rao(others)``
    in TensorLy's unfolding order, without forming the Khatri-Rao product.

    The largest other mode is contracted first (one matrix product); each remaining mode is
    then a broadcast product summed over that mode, so the biggest intermediate has
    ``numel(tensor) / shape[largest] * rank`` entries.

    Args:
        tensor: dense tensor of shape (s_0, ..., s_n).
        factors: one matrix per mode, of shape (s_m, R) (``factors[mode]`` is not used).
        mode: the mode that is kept.

    Returns:
        matrix of shape (s_mode, R).
    """
    others = [m for m in range(tensor.dim()) if m != mode]
    first = max(others, key=lambda m: tensor.shape[m])
    out = torch.movedim(tensor, first, -1) @ factors[first]  # modes except `first`, then R
    dims = [m for m in range(tensor.dim()) if m != first]
    for m in others:
        if m == first:
            continue
        pos = dims.index(m)
        shape = [1] * (len(dims) + 1)
        shape[pos], shape[-1] = factors[m].shape
        out = (out * factors[m].reshape(shape)).sum(pos)
        dims.pop(pos)
    return out


def _solve_symmetric(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``X`` with ``X @ gram = target`` for a symmetric ``gram`` (least squares if singular)."""
    try:
        return torch.linalg.solve(gram, target.t()).t()
    except torch.linalg.LinAlgError:
        return torch.linalg.lstsq(gram, target.t()).solution.t()


def cp_als(tensor: torch.Tensor, factors: List[torch.Tensor], n_iter_max: int = 100,
           tol: float = 1e-4) -> Tuple[List[torch.Tensor], List[float]]:
    """CP-ALS sweeps from the given factors.

    Args:
        tensor: dense tensor of shape (s_0, ..., s_n).
        factors: starting factors, one of shape (s_m, R) per mode (not modified).
        n_iter_max: maximum number of sweeps (each updates every factor once).
        tol: stop when a sweep lowers the relative error by less than ``tol`` times its
            previous value (0: run all sweeps).

    Returns:
        ``(factors, errors)``: the fitted factors and the relative error
        ``||tensor - [[factors]]|| / ||tensor||`` after each sweep.
    """
    factors = [f.clone() for f in factors]
    grams = [f.t() @ f for f in factors]
    norm2 = tensor.pow(2).sum()
    errors: List[float] = []
    for _ in range(n_iter_max):
        for mode in range(tensor.dim()):
            gram = torch.ones_like(grams[0])
            for m, g in enumerate(grams):
                if m != mode:
                    gram = gram * g
            target = mttkrp(tensor, factors, mode)
            factors[mode] = _solve_symmetric(gram, target)
            grams[mode] = factors[mode].t() @ factors[mode]
        # ||T - X||^2 = ||T||^2 - 2 <T, X> + ||X||^2, from the last mode's MTTKRP and grams
        full = grams[0]
        for g in grams[1:]:
            full = full * g
        err2 = norm2 - 2 * (target * factors[-1]).sum() + full.sum()
        errors.append(float((err2.clamp_min(0) / norm2).sqrt()))
        if tol and len(errors) > 1 and errors[-2] - errors[-1] < tol * errors[-2]:
            break
    return factors, errors


def cp_decompose(tensor: torch.Tensor, rank: int, n_iter_max: int = 100, tol: float = 1e-4,
                 seed: int = 0) -> List[torch.Tensor]:
    """CP decomposition ``tensor ~= sum_r factors[0][:, r] o factors[1][:, r] o ...``.

    Args:
        tensor: dense tensor, e.g. a kernel of shape (out, in, k_1, ..., k_d).
        rank: CP rank.
        n_iter_max: maximum ALS sweeps (ignored when the rank allows the exact form).
        tol: stop when a sweep improves the relative error by less than this fraction.
        seed: seed of the Gaussian random start.

    Returns:
        one factor per mode, of shape (shape[mode], rank); the CP weights are absorbed into the
        first factor.
    """
    tensor = tensor.detach().float().cpu()
    if rank >= cp_full_rank(tensor.shape):
        return _cp_exact(tensor, rank)
    gen = torch.Generator().manual_seed(seed)
    start = [torch.randn(s, rank, generator=gen) for s in tensor.shape]
    factors, _ = cp_als(tensor, start, n_iter_max=n_iter_max, tol=tol)
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
