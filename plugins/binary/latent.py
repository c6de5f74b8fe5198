"""Latent real-valued factorisations of a binary layer's weight ("Matrix and tensor
decompositions for training binary neural networks", Bulat, Kossaifi, Tzimiropoulos & Pantic,
2019).

The real weight ``W`` (O, C, kh, kw) (or (O, C) for linear) is not a free tensor but the
reconstruction of real factors; the layer binarises ``sign(W)`` and the gradient reaches the
factors through the STE. After training, :meth:`BinaryConv2d.materialize` keeps ``sign(W)``
only.

* ``SVD``: ``W.view(O, -1) = U @ V``, ``U`` (O, r), ``V`` (r, C*kh*kw).
* ``Tucker``: ``W = G x_1 U_1 x_2 U_2 x_3 U_3 x_4 U_4``, core ``G`` (r_1, ..., r_n).
* ``CP``: ``W = sum_r a_r (x) b_r (x) c_r (x) d_r``, factors (dim_i, r).

Rank options: an ``int``; a ``float`` in (0, 1] (fraction of each factorised dimension's
maximum); for Tucker also a tuple with one rank per mode. An ``int``/``float`` Tucker rank
applies to the output and input channel modes and keeps the spatial modes full.
Ranks above what the tensor allows raise a ``ValueError`` naming the maximum.

Built through :data:`LATENTS` from ``dict(type='SVD'|'Tucker'|'CP', rank=...)``.
"""
from __future__ import annotations

import math
from typing import Sequence, Tuple, Union

import torch
from mmengine.registry import Registry
from torch import Tensor, nn

from plugins.tensor.factorized_conv import cp_to_tensor, tucker_to_tensor

LATENTS = Registry('latent factorisation')

Rank = Union[int, float, Sequence[int]]


def _as_rank(rank: Rank, maximum: int, what: str) -> int:
    if isinstance(rank, bool) or not isinstance(rank, (int, float)):
        raise ValueError(f'{what}: rank must be an int or a float in (0, 1], got {rank!r}')
    if isinstance(rank, float):
        if not 0 < rank <= 1:
            raise ValueError(f'{what}: a float rank is a fraction in (0, 1], got {rank!r}')
        rank = max(1, int(round(rank * maximum)))
    if not 1 <= rank <= maximum:
        raise ValueError(f'{what}: rank {rank} is not allowed; it must be in [1, {maximum}]')
    return rank


class LatentFactorisation(nn.Module):
    """Base: ``forward()`` returns the reconstructed real weight of shape ``self.shape``."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    @torch.no_grad()
    def from_weight(self, weight: Tensor) -> 'LatentFactorisation':
        """Set the factors to a (truncated) decomposition of ``weight``."""
        raise NotImplementedError

    @torch.no_grad()
    def init_like(self, weight: Tensor) -> 'LatentFactorisation':
        """Initialise a freshly built layer's factors from its initial ``weight``; by default
        the decomposition (cheap for SVD and Tucker)."""
        return self.from_weight(weight)

    def forward(self) -> Tensor:
        raise NotImplementedError


@LATENTS.register_module(name='SVD')
class LatentSVD(LatentFactorisation):
    """Matrix factorisation ``W.view(O, -1) = U @ V``.

    Args:
        shape: weight shape (O, C, kh, kw) or (O, C).
        rank: r <= min(O, C*kh*kw).
    """

    def __init__(self, shape: Sequence[int], rank: Rank) -> None:
        super().__init__(shape)
        o, n = self.shape[0], math.prod(self.shape[1:])
        self.rank = _as_rank(rank, min(o, n), f'SVD of a {o}x{n} weight matrix')
        self.U = nn.Parameter(torch.randn(o, self.rank) / math.sqrt(self.rank))
        self.V = nn.Parameter(torch.randn(self.rank, n) / math.sqrt(n))

    @torch.no_grad()
    def from_weight(self, weight: Tensor) -> 'LatentSVD':
        u, s, vh = torch.linalg.svd(weight.reshape(self.shape[0], -1).float(), full_matrices=False)
        r = self.rank
        root = s[:r].sqrt()
        self.U.copy_(u[:, :r] * root)
        self.V.copy_(root[:, None] * vh[:r])
        return self

    def forward(self) -> Tensor:
        return (self.U @ self.V).view(self.shape)

    def extra_repr(self) -> str:
        return f'shape={self.shape}, rank={self.rank}'


@LATENTS.register_module(name='Tucker')
class LatentTucker(LatentFactorisation):
    """Tucker factorisation: a core (r_1..r_n) and one factor (dim_i, r_i) per mode.

    Args:
        shape: weight shape.
        rank: int/float for the two channel modes (spatial modes full), or one rank per mode.
    """

    def __init__(self, shape: Sequence[int], rank: Rank) -> None:
        super().__init__(shape)
        n = len(self.shape)
        if isinstance(rank, (list, tuple)):
            if len(rank) != n:
                raise ValueError(f'Tucker rank {tuple(rank)} needs one entry per mode of the '
                                 f'weight {self.shape}')
            ranks = tuple(_as_rank(r, d, f'Tucker mode {i} (size {d})')
                          for i, (r, d) in enumerate(zip(rank, self.shape)))
        else:
            ranks = tuple(
                _as_rank(rank, d, f'Tucker mode {i} (size {d}) of a {self.shape} weight')
                if i < 2 else d for i, d in enumerate(self.shape))
        self.rank = ranks
        self.core = nn.Parameter(torch.randn(*ranks) / math.sqrt(math.prod(ranks[1:])))
        self.factors = nn.ParameterList([
            nn.Parameter(torch.linalg.qr(torch.randn(d, r))[0]) for d, r in zip(self.shape, ranks)
        ])

    @torch.no_grad()
    def from_weight(self, weight: Tensor) -> 'LatentTucker':
        """Truncated higher-order SVD."""
        w = weight.float()
        core = w
        for mode, r in enumerate(self.rank):
            unfold = w.movedim(mode, 0).reshape(w.shape[mode], -1)
            u = torch.linalg.svd(unfold, full_matrices=False)[0][:, :r]
            self.factors[mode].copy_(u)
            core = torch.tensordot(core, u, dims=([0], [0]))  # mode 0 consumed, r appended
        self.core.copy_(core)
        return self

    def forward(self) -> Tensor:
        return tucker_to_tensor(self.core, list(self.factors))

    def extra_repr(self) -> str:
        return f'shape={self.shape}, rank={self.rank}'


@LATENTS.register_module(name='CP')
class LatentCP(LatentFactorisation):
    """CP (canonical polyadic) factorisation ``W = sum_r prod_i factor_i[:, r]``.

    Args:
        shape: weight shape.
        rank: r <= min_i prod_{j != i} dim_j (the generic upper bound of the CP rank).
    """

    def __init__(self, shape: Sequence[int], rank: Rank) -> None:
        super().__init__(shape)
        total = math.prod(self.shape)
        maximum = min(total // d for d in self.shape)
        self.rank = _as_rank(rank, maximum, f'CP of a {self.shape} weight')
        scale = (1.0 / self.rank)**(1.0 / (2 * len(self.shape)))
        self.factors = nn.ParameterList(
            [nn.Parameter(torch.randn(d, self.rank) * scale / math.sqrt(d)) for d in self.shape])

    @torch.no_grad()
    def from_weight(self, weight: Tensor, n_iter: int = 30) -> 'LatentCP':
        """CP-ALS (tensorly's ``parafac``, numpy backend, ``n_iter`` iterations)."""
        import tensorly as tl
        from tensorly.decomposition import parafac
        with tl.backend_context('numpy'):
            init = 'svd' if self.rank <= min(self.shape) else 'random'
            cp = parafac(weight.detach().double().cpu().numpy(), self.rank, n_iter_max=n_iter,
                         init=init, random_state=0, normalize_factors=False)
            weights, factors = cp
        factors = [torch.as_tensor(f, dtype=torch.float32) for f in factors]
        factors[0] = factors[0] * torch.as_tensor(weights, dtype=torch.float32)
        # balance the norms of the factors of each rank-1 term
        norms = torch.stack([f.norm(dim=0) for f in factors]).clamp_min(1e-12)
        geo = norms.log().mean(0).exp()
        for i, f in enumerate(factors):
            self.factors[i].copy_(f / norms[i] * geo)
        return self

    @torch.no_grad()
    def init_like(self, weight: Tensor) -> 'LatentCP':
        """Keep the random factors and rescale them so that the reconstruction has the
        standard deviation of ``weight``: a fresh layer's weight is noise, and CP-ALS of noise
        costs minutes at 256 channels (rank 1152 of a 256x256x3x3 weight: 146 s here) for
        nothing. :meth:`from_weight` still decomposes trained weights (``load_real_weight``)."""
        current = self().std().clamp_min(1e-12)
        gain = (weight.std() / current)**(1.0 / len(self.factors))
        for factor in self.factors:
            factor.mul_(gain)
        return self

    def forward(self) -> Tensor:
        # factors[0] @ khatri_rao(factors[1:]).T: torch.einsum would contract pairwise and
        # hold an (O, C, rank) intermediate (2.4 GB, 9-15 s a forward at 512 ch, rank 2304)
        return cp_to_tensor(list(self.factors))

    def extra_repr(self) -> str:
        return f'shape={self.shape}, rank={self.rank}'


def build_latent(cfg: dict, shape: Tuple[int, ...]) -> LatentFactorisation:
    """Build ``dict(type='SVD'|'Tucker'|'CP', rank=...)`` for a weight of ``shape``."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'latent must be None or dict(type=..., rank=...), got {cfg!r}')
    if cfg['type'] not in LATENTS.module_dict:
        raise KeyError(f'unknown latent factorisation {cfg["type"]!r}; allowed: '
                       f'{sorted(LATENTS.module_dict)}')
    if 'rank' not in cfg:
        raise ValueError(f'latent {cfg["type"]!r} needs a rank, got {cfg!r}')
    args = dict(cfg, shape=shape)
    return LATENTS.module_dict[args.pop('type')](**args)
