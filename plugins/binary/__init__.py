"""Binary networks as config choices: quantisers, XNOR-Net++ scaling, latent factorisations,
binary layers, the ``binarize`` converter and training recipes (see docs/binary.md)."""
from .activations import ChannelPReLU, LearnableSlope, build_post_activation
from .binary_conv import BinaryConv2d, BinaryLinear
from .latent import LATENTS, LatentCP, LatentSVD, LatentTucker, build_latent
from .quantizers import QUANTIZERS, ApproxSign, IdentityQuantizer, SignSTE, build_quantizer
from .scaling import FixedScale, LearnedScale, NoScale, XNORScale, build_scaling

__all__ = [
    'QUANTIZERS', 'SignSTE', 'ApproxSign', 'IdentityQuantizer', 'build_quantizer', 'NoScale',
    'XNORScale', 'LearnedScale', 'FixedScale', 'build_scaling', 'LATENTS', 'LatentSVD',
    'LatentTucker', 'LatentCP', 'build_latent', 'ChannelPReLU', 'LearnableSlope',
    'build_post_activation', 'BinaryConv2d', 'BinaryLinear'
]
