"""Fréchet distance between two image sets, on features that need no downloaded weights.

FID ("GANs trained by a two time-scale update rule...", Heusel et al., 2017) fits a Gaussian to
Inception-v3 features of each set and reports
``||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))``. ImageNet-trained Inception weights
cannot be downloaded here, and an untrained Inception is no better than any random network, so
this module offers two *documented substitutes*; their numbers are not comparable with
published FIDs:

* ``'patch'`` (default) - **Fréchet patch distance**: features are all ``patch_size`` x
  ``patch_size`` RGB patches of every image (stride ``patch_stride``), i.e. the distance between
  the Gaussians of local pixel statistics. It is sensitive to exactly what degradations change
  (blur removes high-frequency patch variance, noise adds it, JPEG adds 8x8 block structure,
  colour shifts move the mean) and, with thousands of patches, its covariance is well estimated
  from a few dozen images. It knows nothing about faces or semantics.
* ``'random_conv'`` - a fixed, seeded, *untrained* 2-layer conv net (ReLU, global average
  pooling, 64 features): random-feature statistics of textures/colours at several scales; less
  well estimated with few images (64-D covariance).

Compare numbers only between sets of the same resolution, with the same feature settings.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS
from scipy import linalg
from torch import nn
from torch.nn import functional as F

__all__ = ['frechet_distance', 'patch_features', 'RandomConvFeatures', 'FrechetDistanceMetric']

FEATURES = ('patch', 'random_conv')


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))`` between two Gaussians.

    As in the reference FID code, ``eps * I`` is added to both covariances when the product's
    square root is not finite, and a negligible imaginary part is dropped.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), ) * 2:
        raise ValueError(f'mismatched statistics: mu {mu1.shape}/{mu2.shape}, '
                         f'sigma {s1.shape}/{s2.shape}')
    covmean = linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(len(s1)) * eps
        covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def patch_features(images: torch.Tensor, patch_size: int = 4,
                   patch_stride: int = 2) -> torch.Tensor:
    """All patches of a batch: (B, C, H, W) -> (B * L, C * patch_size**2)."""
    if min(images.shape[-2:]) < patch_size:
        raise ValueError(f'images of {tuple(images.shape[-2:])} px are smaller than '
                         f'patch_size={patch_size}')
    cols = F.unfold(images.float(), patch_size, stride=patch_stride)  # (B, C*k*k, L)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


class RandomConvFeatures(nn.Module):
    """Fixed random conv features: conv3x3(C->32)-ReLU-conv3x3 s2(32->64)-ReLU-global mean.

    Weights are drawn from ``torch.Generator().manual_seed(seed)`` (same seed, same features on
    every machine with the same torch) and never trained.
    """

    def __init__(self, in_channels: int = 3, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = nn.Parameter(torch.randn(32, in_channels, 3, 3, generator=g) /
                               (in_channels * 9)**0.5, requires_grad=False)
        self.w2 = nn.Parameter(torch.randn(64, 32, 3, 3, generator=g) / (32 * 9)**0.5,
                               requires_grad=False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (B, C, H, W) in [0, 1]. Returns: (B, 64)."""
        x = F.relu(F.conv2d(x.float() * 2 - 1, self.w1, padding=1))
        x = F.relu(F.conv2d(x, self.w2, stride=2, padding=1))
        return x.mean(dim=(2, 3))


@METRICS.register_module()
class FrechetDistanceMetric(BaseMetric):
    """Fréchet distance between the predictions and the real images of the evaluation set.

    Reads the model's per-sample dicts ``{'pred': ..., 'real': ...}``: generated LR vs real LR
    for the High-to-Low stage, SR output vs real HR for the Low-to-High stage.

    Args:
        features: ``'patch'`` or ``'random_conv'`` (see the module docstring).
        patch_size, patch_stride: patch features settings.
        seed: seed of the random conv features.
        prefix: metric name prefix; the value is reported as ``prefix/fd_<features>``.
    """
    default_prefix = 'sr'

    def __init__(self, features: str = 'patch', patch_size: int = 4, patch_stride: int = 2,
                 seed: int = 0, collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if features not in FEATURES:
            raise ValueError(f'features must be one of {FEATURES}, got {features!r}')
        self.features, self.patch_size, self.patch_stride = features, patch_size, patch_stride
        self.extractor = RandomConvFeatures(seed=seed) if features == 'random_conv' else None

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Features of a batch (B, C, H, W) in [0, 1]: (N, D)."""
        if self.extractor is not None:
            return self.extractor(images)
        return patch_features(images, self.patch_size, self.patch_stride)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if sample.get('real') is None:
                continue
            self.results.append(
                dict(pred=self.embed(sample['pred'][None].cpu()).numpy(),
                     real=self.embed(sample['real'][None].cpu()).numpy()))

    def compute_metrics(self, results: list) -> dict:
        if not results:
            raise ValueError("FrechetDistanceMetric got no sample with 'real' images")
        pred = np.concatenate([r['pred'] for r in results])
        real = np.concatenate([r['real'] for r in results])
        if len(pred) < 2:
            raise ValueError('FrechetDistanceMetric needs at least 2 feature vectors per set')
        value = frechet_distance(pred.mean(0), np.cov(pred, rowvar=False), real.mean(0),
                                 np.cov(real, rowvar=False))
        return {f'fd_{self.features}': value}
