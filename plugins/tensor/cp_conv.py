"""CP convolutions for 1-D, 2-D and 3-D inputs.

"Factorized Higher-Order CNNs with an Application to Spatio-Temporal Emotion Estimation"
(Kossaifi et al., CVPR 2020). The kernel is a rank-R CP tensor

    W = sum_r U_out[:, r] o U_in[:, r] o U_1[:, r] o ... o U_d[:, r],

so the convolution is (i) a 1x1 convolution in -> R (``U_in``), (ii) a depthwise convolution
over the R channels whose kernel is the rank-one outer product of ``U_1 ... U_d`` (the
MobileNet-like separable part; strides, padding and dilation apply here), (iii) a 1x1
convolution R -> out (``U_out``). The 1x1 steps run as GEMMs whose output is laid out
channels-last, which is the layout oneDNN's depthwise kernels are fast in.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .decompose import cp_decompose
from .factorized_conv import (CONV_FN, FactorizedConvNd, cp_to_tensor, gemm_channel_mix,
                              register_fixed_dims)
from .ranks import cp_rank


@MODELS.register_module()
class CPConv(FactorizedConvNd):
    """N-D convolution with a CP-factorised kernel (``dim`` from ``kernel_size``, default 2).

    Args:
        rank: CP rank (int >= 1) or compression ratio (float in (0, 1]): R =
            round(ratio * out * in * prod(k) / (out + in + sum(k))).
        See :class:`~plugins.tensor.factorized_conv.FactorizedConvNd` for the rest.

    Parameters: ``R * (out + in + sum(k))`` (+ ``out`` bias).
    """

    def _build(self, rank) -> None:
        self.rank = cp_rank(rank, self.weight_shape)
        fan_in = self.in_channels * math.prod(self.kernel_size)
        n_modes = len(self.weight_shape)
        # entries of the reconstructed kernel then have variance 1 / fan_in
        std = (1.0 / (fan_in * self.rank))**(1.0 / (2 * n_modes))
        self.factor_out = nn.Parameter(torch.randn(self.out_channels, self.rank) * std)
        self.factor_in = nn.Parameter(torch.randn(self.in_channels, self.rank) * std)
        self.factors_kernel = nn.ParameterList(
            [nn.Parameter(torch.randn(k, self.rank) * std) for k in self.kernel_size])

    @property
    def factors(self) -> list:
        """CP factors in kernel-mode order: (out, R), (in, R), (k_1, R), ..."""
        return [self.factor_out, self.factor_in, *self.factors_kernel]

    def reconstruct(self) -> torch.Tensor:
        return cp_to_tensor(self.factors)

    def depthwise_kernel(self) -> torch.Tensor:
        """Rank-one spatial kernels of the R channels, shape (R, 1, k_1, ..., k_d)."""
        kernel = self.factors_kernel[0].t()  # (R, k_1)
        for factor in self.factors_kernel[1:]:
            kernel = kernel.unsqueeze(-1) * factor.t().reshape(self.rank,
                                                               *([1] * (kernel.dim() - 1)), -1)
        # contiguous: the broadcast product leaves rank-last strides, which oneDNN would
        # otherwise have to reorder on every call
        return kernel.unsqueeze(1).contiguous()

    def load_decomposition(self, weight: torch.Tensor) -> None:
        factors = cp_decompose(weight, self.rank)
        with torch.no_grad():
            for param, value in zip(self.factors, factors):
                param.copy_(value)

    def _forward_factorized(self, x: torch.Tensor) -> torch.Tensor:
        y = gemm_channel_mix(x, self.factor_in, channels_last=True)  # (N, R, *S), chan-last
        y = CONV_FN[self.dim](y, self.depthwise_kernel(), None, groups=self.rank,
                              **self._conv_kwargs())
        return gemm_channel_mix(y, self.factor_out.t(), channels_last=not x.is_contiguous(),
                                bias=self.bias)

    def _factorized_flops(self, x: torch.Tensor, out: torch.Tensor) -> int:
        n = x.shape[0]
        p_in, p_out = math.prod(x.shape[2:]), math.prod(out.shape[2:])
        r = self.rank
        return n * (p_in * self.in_channels * r + p_out * r * math.prod(self.kernel_size) +
                    p_out * r * self.out_channels)

    def _reconstruction_flops(self) -> int:
        return self.rank * math.prod(self.weight_shape)


CPConv1d, CPConv2d, CPConv3d = register_fixed_dims(CPConv)
