"""Tensor contraction (TCL) and tensor regression (TRL) layers.

- TCL, "Tensor Contraction Layers for Parsimonious Deep Nets" (Kossaifi et al., CVPR-W 2017):
  ``Y = X x_1 V_1 x_2 V_2 ... x_k V_k`` on the non-batch modes of an activation tensor.
- TRL, "Tensor Regression Networks" (Kossaifi et al., JMLR 2020): ``Y = <X, W>_k + b`` with the
  regression weight ``W`` of shape ``in_shape + out_shape`` held in low-rank Tucker or CP form,
  computed without forming ``W``: contract the input modes with the input factors, then the
  core (Tucker) or the rank mode (CP), then expand the output modes.
"""
from __future__ import annotations

import math
import string
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .factorized_conv import cp_to_tensor, mode_dot, tucker_to_tensor
from .ranks import check_factorization, cp_rank, tucker_ranks


def _shape(value: Union[int, Sequence[int]], name: str) -> Tuple[int, ...]:
    shape = (value, ) if isinstance(value, int) else tuple(value)
    if not shape or any((not isinstance(s, int)) or s < 1 for s in shape):
        raise ValueError(f'{name} must be a positive int or a tuple of positive ints, got '
                         f'{value!r}')
    return shape


def _check_input(x: torch.Tensor, in_shape: tuple, layer: str) -> None:
    if tuple(x.shape[1:]) != in_shape:
        raise ValueError(f'{layer} built for inputs of shape (N, {", ".join(map(str, in_shape))})'
                         f', got {tuple(x.shape)}')


@MODELS.register_module()
class TCL(nn.Module):
    """Tensor contraction layer: (N, *in_shape) -> (N, *out_shape), one matrix per mode.

    Args:
        in_shape: non-batch input shape, e.g. (C, H, W).
        out_shape: output shape, same number of modes.
        bias: add a bias of shape ``out_shape``.

    Parameters: ``sum(in_m * out_m)`` (+ ``prod(out_shape)``).
    """

    def __init__(self, in_shape: Sequence[int], out_shape: Sequence[int],
                 bias: bool = True) -> None:
        super().__init__()
        self.in_shape, self.out_shape = _shape(in_shape, 'in_shape'), _shape(out_shape,
                                                                             'out_shape')
        if len(self.in_shape) != len(self.out_shape):
            raise ValueError(f'TCL: in_shape {self.in_shape} and out_shape {self.out_shape} '
                             f'must have the same number of modes')
        self.factors = nn.ParameterList([
            nn.Parameter(torch.randn(o, i) / math.sqrt(i))
            for i, o in zip(self.in_shape, self.out_shape)
        ])
        self.bias = nn.Parameter(torch.zeros(self.out_shape)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (N, *in_shape). Returns: (N, *out_shape)."""
        _check_input(x, self.in_shape, 'TCL')
        for mode, factor in enumerate(self.factors, start=1):
            x = mode_dot(x, factor, mode)
        return x if self.bias is None else x + self.bias

    def cost(self, inputs: tuple, output: torch.Tensor):
        from plugins.analysis import LayerCost
        n, flops = inputs[0].shape[0], 0
        shape = list(self.in_shape)
        for m, o in enumerate(self.out_shape):
            flops += math.prod(shape) * o
            shape[m] = o
        return LayerCost(flops=n * flops, real_params=sum(p.numel() for p in self.parameters()))


@MODELS.register_module()
class TRL(nn.Module):
    """Tensor regression layer: (N, *in_shape) -> (N, *out_shape) with a low-rank weight.

    Args:
        in_shape: non-batch input shape, e.g. (C, H, W).
        out_shape: output shape, e.g. ``num_classes`` or (K, H', W').
        rank: Tucker: int (every mode, capped at its size), float compression ratio of the
            full weight (all modes scaled alike) or one rank per mode of
            ``in_shape + out_shape``; CP: int or float ratio.
        factorization: ``'tucker'`` or ``'cp'``.
        bias: add a bias of shape ``out_shape``.

    Parameters: Tucker ``prod(ranks) + sum(dims * ranks)``; CP ``R * sum(dims)``
    (+ ``prod(out_shape)`` bias).
    """

    def __init__(self, in_shape: Sequence[int], out_shape: Union[int, Sequence[int]],
                 rank: Union[int, float, Sequence[int]] = 0.1, factorization: str = 'tucker',
                 bias: bool = True) -> None:
        super().__init__()
        self.in_shape, self.out_shape = _shape(in_shape, 'in_shape'), _shape(out_shape,
                                                                             'out_shape')
        self.factorization = check_factorization(factorization)
        full = self.in_shape + self.out_shape
        fan_in = math.prod(self.in_shape)
        if self.factorization == 'tucker':
            self.rank = tucker_ranks(rank, full, n_channel_modes=len(full))
            self.core = nn.Parameter(torch.randn(*self.rank) / math.sqrt(fan_in))
            self.factors = nn.ParameterList(
                [nn.Parameter(torch.randn(s, r) / math.sqrt(r)) for s, r in zip(full, self.rank)])
        else:
            self.rank = cp_rank(rank, full)
            std = (1.0 / (fan_in * self.rank))**(1.0 / (2 * len(full)))
            self.factors = nn.ParameterList(
                [nn.Parameter(torch.randn(s, self.rank) * std) for s in full])
        self.bias = nn.Parameter(torch.zeros(self.out_shape)) if bias else None

    def full_weight(self) -> torch.Tensor:
        """The regression weight, shape ``in_shape + out_shape`` (for tests and export)."""
        if self.factorization == 'tucker':
            return tucker_to_tensor(self.core, list(self.factors))
        return cp_to_tensor(list(self.factors))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (N, *in_shape). Returns: (N, *out_shape)."""
        _check_input(x, self.in_shape, 'TRL')
        k = len(self.in_shape)
        if self.factorization == 'tucker':
            for mode, factor in enumerate(self.factors[:k], start=1):
                x = mode_dot(x, factor.t(), mode)  # (N, r_1, ..., r_k)
            y = torch.tensordot(x, self.core, dims=(list(range(1, k + 1)), list(range(k))))
            for mode, factor in enumerate(self.factors[k:], start=1):
                y = mode_dot(y, factor, mode)
        else:
            letters = string.ascii_lowercase[:k]
            z = torch.einsum(f'n{letters},' + ','.join(f'{c}z' for c in letters) + '->nz', x,
                             *self.factors[:k])  # (N, R)
            outs = list(self.factors[k:])
            y = (z @ cp_to_tensor([torch.eye(self.rank, device=z.device)] + outs).reshape(
                self.rank, -1)).reshape(x.shape[0], *self.out_shape)
        return y if self.bias is None else y + self.bias

    def cost(self, inputs: tuple, output: torch.Tensor):
        from plugins.analysis import LayerCost
        n, k = inputs[0].shape[0], len(self.in_shape)
        if self.factorization == 'tucker':
            flops, shape = 0, list(self.in_shape)
            for m, r in enumerate(self.rank[:k]):
                flops += math.prod(shape) * r
                shape[m] = r
            flops += math.prod(self.rank)
            shape = list(self.rank[k:])
            for m, o in enumerate(self.out_shape):
                shape[m] = o
                flops += math.prod(shape) * self.rank[k + m]
            flops *= n
        else:
            flops = n * self.rank * (math.prod(self.in_shape) + math.prod(self.out_shape))
        return LayerCost(flops=int(flops),
                         real_params=sum(p.numel() for p in self.parameters()))
