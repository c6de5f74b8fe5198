"""Tensor-factorised networks: CP/Tucker N-D convolutions, converters, TRL/TCL heads, T-Net.

Importing this package registers the conv types ``CPConv``, ``CPConv{1,2,3}d``,
``TuckerConv``, ``TuckerConv{1,2,3}d`` (and the heads) into mmengine's root ``MODELS``.
See docs/tensor.md.
"""
from .cp_conv import CPConv, CPConv1d, CPConv2d, CPConv3d
from .decompose import cp_decompose, tucker_decompose
from .factorized_conv import FactorizedConvNd, cp_to_tensor, tucker_to_tensor
from .ranks import FACTORIZATIONS, check_factorization, cp_rank, tucker_ranks
from .transduction import (TRANSDUCERS, inflate_conv, transduce, transduce_cp_conv,
                           transduce_tucker_conv)
from .tucker_conv import TuckerConv, TuckerConv1d, TuckerConv2d, TuckerConv3d

__all__ = [
    'CPConv', 'CPConv1d', 'CPConv2d', 'CPConv3d', 'TuckerConv', 'TuckerConv1d', 'TuckerConv2d',
    'TuckerConv3d', 'FactorizedConvNd', 'cp_decompose', 'tucker_decompose', 'cp_to_tensor',
    'tucker_to_tensor', 'FACTORIZATIONS', 'check_factorization', 'cp_rank', 'tucker_ranks',
    'transduce_cp_conv', 'transduce', 'transduce_tucker_conv', 'inflate_conv', 'TRANSDUCERS'
]
from .factorize import factorize  # noqa: E402
from .tensor_layers import TCL, TRL  # noqa: E402
from .tnet import RANK_SCHEMES, TNET_MODES, TNet, tnet_ranks  # noqa: E402
from .temporal_freeze import (FreezeSpatialFactorsHook, freeze_spatial_factors,  # noqa: E402
                              spatial_parameter_names)
from .trl_heads import TRLClassifier, TRLHeatmapHead  # noqa: E402

__all__ += [
    'factorize', 'TCL', 'TRL', 'TNet', 'TNET_MODES', 'RANK_SCHEMES', 'tnet_ranks',
    'TRLClassifier', 'TRLHeatmapHead', 'FreezeSpatialFactorsHook', 'freeze_spatial_factors',
    'spatial_parameter_names'
]
