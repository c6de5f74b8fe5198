"""The per-channel terms of an eval BatchNorm, rounded as torch's CPU kernel rounds them.

torch's eval BatchNorm on the CPU (vectorised kernel) computes ``alpha = weight * (1 /
sqrt(var + eps))`` with a correctly rounded square root and ``out = fma(x, alpha, beta)`` with
``beta = fma(-mean, alpha, bias)``: one rounding per fused multiply-add (checked against exact
rationals in the tests). The packed kernel folds a BatchNorm that feeds a binary conv into its
sign packing, and one that follows a binary conv into its epilogue, with these terms and
``fmaf``, so the signs and values equal torch's bit for bit.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn

__all__ = ['batchnorm_terms']


def _round_to_f32_exact(hi: Tensor, lo: Tensor) -> Tensor:
    """float32 rounding of the exact value ``hi + lo`` (float64, ``|lo| <= ulp(hi) / 2``):
    round to odd in float64, then to nearest float32 (53 >= 24 + 2 bits: no double rounding)."""
    bits = hi.view(torch.int64)
    even = (bits & 1) == 0
    toward = torch.where(lo > 0, torch.full_like(hi, float('inf')),
                         torch.full_like(hi, float('-inf')))
    odd = torch.where((lo != 0) & even, torch.nextafter(hi, toward), hi)
    return odd.float()


@torch.no_grad()
def batchnorm_terms(norm: nn.modules.batchnorm._BatchNorm) -> Tuple[Tensor, Tensor]:
    """``(alpha, beta)`` of an eval BatchNorm as torch's CPU kernel computes them: ``alpha =
    1 / sqrt(var + eps) * weight`` (float32, one rounding per operation) and ``beta =
    fma(-mean, alpha, bias)`` (one rounding). Returns two contiguous float32 (C, ) tensors."""
    var, mean = norm.running_var.float(), norm.running_mean.float()
    # correctly rounded float32 sqrt and division via float64 (53 >= 2 * 24 + 2 bits: no
    # double-rounding error); torch's own vectorised float32 sqrt is not correctly rounded
    var_eps = (var + torch.tensor(norm.eps, dtype=torch.float32)).double()
    invstd = (1 / torch.sqrt(var_eps).float().double()).float()
    alpha = invstd * norm.weight.float() if norm.weight is not None else invstd
    bias = norm.bias.double() if norm.bias is not None else torch.zeros_like(mean).double()
    prod = -(mean.double() * alpha.double())  # exact: 24 + 24 bits
    hi = bias + prod
    b_virtual = hi - bias  # TwoSum: hi + lo == bias + prod exactly
    lo = (bias - (hi - b_virtual)) + (prod - b_virtual)
    beta = _round_to_f32_exact(hi, lo)
    return alpha.contiguous(), beta.contiguous()
