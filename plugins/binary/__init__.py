"""Binary networks as config choices: quantisers, XNOR-Net++ scaling, latent factorisations,
binary layers, the ``binarize`` converter and training recipes (see docs/binary.md)."""
from .activations import ChannelPReLU, LearnableSlope, build_post_activation
from .binary_conv import BinaryConv2d, BinaryLinear
from .converter import binarize, binary_layers, select_layers
from .distillation import (DistillTopdownPoseEstimator, FeatureDistillLoss, HeatmapDistillLoss,
                           LogitDistillLoss)
from .export import export_binary_state, materialize
from .latent import LATENTS, LatentCP, LatentSVD, LatentTucker, build_latent
from .progressive import ProgressiveBinarizationHook, binary_fraction
from .quantizers import (QUANTIZERS, ApproxSign, IdentityQuantizer, SignSTE, SmoothSign,
                         build_quantizer)
from .reverse_init import RealToBinaryInitHook, init_from_real
from .scaling import FixedScale, LearnedScale, NoScale, XNORScale, build_scaling
from .smooth_progressive import SmoothSignScheduleHook
from .stacking import StackFreezeHook, copy_stack
from .two_stage import TwoStageBinarizationHook, fold_weight_magnitude

__all__ = [
    'QUANTIZERS', 'SignSTE', 'ApproxSign', 'SmoothSign', 'IdentityQuantizer', 'build_quantizer',
    'SmoothSignScheduleHook', 'TwoStageBinarizationHook', 'fold_weight_magnitude', 'NoScale',
    'XNORScale', 'LearnedScale', 'FixedScale', 'build_scaling', 'LATENTS', 'LatentSVD',
    'LatentTucker', 'LatentCP', 'build_latent', 'ChannelPReLU', 'LearnableSlope',
    'build_post_activation', 'BinaryConv2d', 'BinaryLinear', 'binarize', 'binary_layers',
    'select_layers', 'ProgressiveBinarizationHook', 'binary_fraction', 'init_from_real',
    'RealToBinaryInitHook', 'StackFreezeHook', 'copy_stack', 'HeatmapDistillLoss',
    'FeatureDistillLoss', 'LogitDistillLoss', 'DistillTopdownPoseEstimator',
    'export_binary_state', 'materialize'
]
