"""2-D -> 3-D transduction of CP convolutions.

"Factorized Higher-Order CNNs with an Application to Spatio-Temporal Emotion Estimation"
(Kossaifi et al., CVPR 2020), Sec. "Transduction": a CP convolution trained on images
``sum_r U_out o U_in o U_h o U_w`` becomes a spatio-temporal one by adding a temporal factor
``U_t`` (k_t, R): ``sum_r U_out o U_in o U_t o U_h o U_w``. The spatial factors keep what was
learnt on still images; only ``U_t`` (and optionally everything) is then trained on video.
"""
from __future__ import annotations

from typing import Union

import torch

from .cp_conv import CPConv, CPConv3d

TEMPORAL_INITS = ('delta', 'average', 'ones')


def transduce_cp_conv(conv: CPConv,
                      kernel_t: int = 3,
                      temporal: Union[str, torch.Tensor] = 'delta',
                      stride_t: int = 1,
                      padding_t: int = None,
                      dilation_t: int = 1) -> CPConv3d:
    """Grow a 2-D :class:`CPConv` into a 3-D one over (time, height, width).

    Args:
        conv: a trained 2-D CP convolution.
        kernel_t: temporal kernel size.
        temporal: initial temporal factor: ``'delta'`` (centre tap 1: frame-wise 2-D conv),
            ``'average'`` (1 / kernel_t everywhere), ``'ones'``, or a tensor of shape
            (kernel_t,) (shared by all ranks) or (kernel_t, R).
        stride_t, padding_t, dilation_t: temporal stride/padding/dilation (padding defaults to
            ``dilation_t * (kernel_t - 1) // 2``, "same" for odd kernels).

    Returns:
        a :class:`CPConv3d` with ``kernel_size=(kernel_t, kh, kw)`` whose input is
        (N, C, T, H, W). On a video of identical frames, away from the temporal border, its
        output equals the 2-D output on one frame times the sum of the temporal factor (the
        bias added once).

    Raises:
        ValueError: ``conv`` is not a 2-D CP conv, ``padding`` is a string, or the temporal
            init is unknown / of the wrong shape.
    """
    if not isinstance(conv, CPConv) or conv.dim != 2:
        raise ValueError(f'transduction needs a 2-D CPConv, got {type(conv).__name__}'
                         f'{"" if not isinstance(conv, CPConv) else f" of dim {conv.dim}"}')
    if isinstance(conv.padding, str):
        raise ValueError(f'transduction needs numeric padding, got padding={conv.padding!r}')
    rank = conv.rank
    if padding_t is None:
        padding_t = dilation_t * (kernel_t - 1) // 2
    if isinstance(temporal, str):
        if temporal not in TEMPORAL_INITS:
            raise ValueError(f'unknown temporal init {temporal!r}; allowed: '
                             f'{list(TEMPORAL_INITS)} or a tensor of shape ({kernel_t},) or '
                             f'({kernel_t}, {rank})')
        if temporal == 'delta':
            factor = torch.zeros(kernel_t)
            factor[kernel_t // 2] = 1.0
        elif temporal == 'average':
            factor = torch.full((kernel_t, ), 1.0 / kernel_t)
        else:
            factor = torch.ones(kernel_t)
    else:
        factor = torch.as_tensor(temporal, dtype=torch.float32)
    if factor.shape == (kernel_t, ):
        factor = factor[:, None].expand(kernel_t, rank)
    if factor.shape != (kernel_t, rank):
        raise ValueError(f'temporal factor of shape {tuple(factor.shape)}; allowed: '
                         f'({kernel_t},) or ({kernel_t}, {rank})')
    conv3d = CPConv3d(conv.in_channels, conv.out_channels, (kernel_t, *conv.kernel_size),
                      stride=(stride_t, *conv.stride), padding=(padding_t, *conv.padding),
                      dilation=(dilation_t, *conv.dilation), bias=conv.bias is not None,
                      rank=rank, implementation=conv.implementation)
    conv3d.to(conv.factor_in.device)
    with torch.no_grad():
        conv3d.factor_out.copy_(conv.factor_out)
        conv3d.factor_in.copy_(conv.factor_in)
        conv3d.factors_kernel[0].copy_(factor)
        for dst, src in zip(conv3d.factors_kernel[1:], conv.factors_kernel):
            dst.copy_(src)
        if conv.bias is not None:
            conv3d.bias.copy_(conv.bias)
    return conv3d
