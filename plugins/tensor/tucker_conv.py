"""Tucker convolutions for 1-D, 2-D and 3-D inputs.

"Factorized Higher-Order CNNs with an Application to Spatio-Temporal Emotion Estimation"
(Kossaifi et al., CVPR 2020); Tucker-2 when the kernel modes keep full rank ("Compression of
Deep Convolutional Neural Networks for Fast and Low Power Mobile Applications", Kim et al.,
ICLR 2016). The kernel is ``W = G x_0 U_out x_1 U_in x_2 U_1 ... x_{d+1} U_d`` with core
``G`` of shape (R_out, R_in, r_1, ..., r_d), so the convolution is a 1x1 convolution
in -> R_in, a dense R_in -> R_out convolution with the small kernel
``G x_2 U_1 ... x_{d+1} U_d``, and a 1x1 convolution R_out -> out.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
from mmengine.registry import MODELS

from .decompose import tucker_decompose
from .factorized_conv import (CONV_FN, FactorizedConvNd, gemm_channel_mix, mode_dot,
                              register_fixed_dims, tucker_to_tensor)
from .ranks import tucker_params, tucker_ranks


@MODELS.register_module()
class TuckerConv(FactorizedConvNd):
    """N-D convolution with a Tucker-factorised kernel (``dim`` from ``kernel_size``).

    Args:
        rank: int (rank of both channel modes, kernel modes full), float compression ratio in
            (0, 1] (channel ranks scaled by one fraction until the parameters fit), or one
            rank per mode (R_out, R_in, r_1, ..., r_d).
        See :class:`~plugins.tensor.factorized_conv.FactorizedConvNd` for the rest.

    Parameters: ``prod(ranks) + sum(shape[m] * ranks[m])`` (+ ``out`` bias).
    """

    def _build(self, rank) -> None:
        self.rank = tucker_ranks(rank, self.weight_shape)
        fan_in = self.in_channels * math.prod(self.kernel_size)
        self.core = nn.Parameter(torch.randn(*self.rank) / math.sqrt(fan_in))
        # factors with entries of variance 1 / rank keep the kernel's variance at 1 / fan_in
        self.factors = nn.ParameterList([
            nn.Parameter(torch.randn(s, r) / math.sqrt(r))
            for s, r in zip(self.weight_shape, self.rank)
        ])

    def reconstruct(self) -> torch.Tensor:
        return tucker_to_tensor(self.core, list(self.factors)).contiguous()

    def small_kernel(self) -> torch.Tensor:
        """Core with the kernel modes expanded, shape (R_out, R_in, k_1, ..., k_d)."""
        kernel = self.core
        for mode, factor in enumerate(self.factors[2:], start=2):
            kernel = mode_dot(kernel, factor, mode)
        return kernel.contiguous()  # mode_dot leaves permuted strides

    def load_decomposition(self, weight: torch.Tensor) -> None:
        core, factors = tucker_decompose(weight, self.rank)
        with torch.no_grad():
            self.core.copy_(core)
            for param, value in zip(self.factors, factors):
                param.copy_(value)

    def _forward_factorized(self, x: torch.Tensor) -> torch.Tensor:
        y = gemm_channel_mix(x, self.factors[1], channels_last=True)
        y = CONV_FN[self.dim](y, self.small_kernel(), None, **self._conv_kwargs())
        return gemm_channel_mix(y, self.factors[0].t(), channels_last=not x.is_contiguous(),
                                bias=self.bias)

    def _factorized_flops(self, x: torch.Tensor, out: torch.Tensor) -> int:
        n = x.shape[0]
        p_in, p_out = math.prod(x.shape[2:]), math.prod(out.shape[2:])
        r_out, r_in = self.rank[:2]
        k = math.prod(self.kernel_size)
        build = sum(r_out * r_in * math.prod(self.kernel_size[:i + 1]) *
                    math.prod(self.rank[2 + i:]) for i in range(self.dim))
        return build + n * (p_in * self.in_channels * r_in + p_out * r_out * r_in * k +
                            p_out * r_out * self.out_channels)

    def _reconstruction_flops(self) -> int:
        shape, ranks = self.weight_shape, self.rank
        return sum(math.prod(shape[:i + 1]) * math.prod(ranks[i:]) for i in range(len(shape)))

    @property
    def n_params_closed_form(self) -> int:
        return tucker_params(self.weight_shape, self.rank)


TuckerConv1d, TuckerConv2d, TuckerConv3d = register_fixed_dims(TuckerConv)
