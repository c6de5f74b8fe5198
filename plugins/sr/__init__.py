"""Real-world face super-resolution: "To learn image super-resolution, use a GAN to learn how to
do image degradation first" (Bulat, Yang and Tzimiropoulos, ECCV 2018).

Stage 1, :class:`HighToLowGAN`, learns from unpaired HR and real LR faces to degrade HR faces
(:class:`HighToLowGenerator`, 64x64 + noise -> 16x16); stage 2, :class:`LowToHighGAN`, learns 4x
super-resolution (:class:`LowToHighGenerator`) from the pairs that the stage-1 generator makes.
Both are GANs with the hinge loss, spectrally normalised :class:`SRDiscriminator` and an L2 pixel
loss (alpha = 1, beta = 0.05), trained with one optimiser per network
(:class:`SubnetOptimWrapperConstructor`). See docs/sr.md.
"""
from . import faces_synthetic  # noqa: F401  (registers the 'faces_sr_synthetic' generator)
from .checkpoint import load_submodule_weights, load_trained_generator, resolve_checkpoint
from .degradations import DegradationParams, degrade, sample_degradation
from .discriminator import SRDiscriminator
from .distribution_distance import FrechetDistanceMetric, frechet_distance, patch_features
from .folder_datasets import PairedSRDataset, UnpairedSRDataset
from .gan_model import AlternatingGAN
from .high_to_low_gan import HighToLowGAN
from .high_to_low_generator import HighToLowGenerator
from .image_io import fit_to_size, list_images, read_rgb, to_rgb
from .image_quality import PairedImageMetric, psnr, ssim
from .losses import HingeGANLoss, hinge_discriminator_loss, hinge_generator_loss
from .low_to_high_gan import LowToHighGAN
from .low_to_high_generator import LowToHighGenerator
from .optim_constructor import SubnetOptimWrapperConstructor
from .residual_block import PreActResidualBlock
from .num_threads_hook import SRNumThreadsHook
from .sample_grid_hook import SRSampleGridHook
from .side_by_side import side_by_side, tile_rows
from .spectral_norm import add_spectral_norm

__all__ = [
    'HighToLowGenerator', 'LowToHighGenerator', 'SRDiscriminator', 'PreActResidualBlock',
    'add_spectral_norm', 'HingeGANLoss', 'hinge_discriminator_loss', 'hinge_generator_loss',
    'AlternatingGAN', 'HighToLowGAN', 'LowToHighGAN', 'SubnetOptimWrapperConstructor',
    'UnpairedSRDataset', 'PairedSRDataset', 'read_rgb', 'to_rgb', 'fit_to_size', 'list_images',
    'DegradationParams', 'degrade', 'sample_degradation', 'PairedImageMetric', 'psnr', 'ssim',
    'FrechetDistanceMetric', 'frechet_distance', 'patch_features', 'SRSampleGridHook',
    'SRNumThreadsHook',
    'side_by_side', 'tile_rows', 'load_submodule_weights', 'resolve_checkpoint',
    'load_trained_generator'
]
