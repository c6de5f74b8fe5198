"""PSNR and SSIM between images in [0, 1], and the mmengine metric that reports them on pairs.

PSNR ``= 10 log10(1 / MSE)`` over all pixels and channels of an image (data range 1).
SSIM follows "Image quality assessment: from error visibility to structural similarity"
(Wang et al., 2004) with the conventions of ``skimage.metrics.structural_similarity`` defaults:
7x7 uniform window, sample covariances, ``K1 = 0.01``, ``K2 = 0.03``, the mean taken over the
pixels whose window lies inside the image, then over channels.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS
from torch.nn import functional as F

__all__ = ['psnr', 'ssim', 'PairedImageMetric']


def _check(pred: torch.Tensor, gt: torch.Tensor) -> None:
    if pred.shape != gt.shape or pred.dim() != 3:
        raise ValueError(f'expected two (C, H, W) images of the same shape, got '
                         f'{tuple(pred.shape)} and {tuple(gt.shape)}')


def psnr(pred: torch.Tensor, gt: torch.Tensor, crop_border: int = 0) -> float:
    """PSNR in dB of (C, H, W) images in [0, 1]; ``inf`` for identical images.

    Args:
        pred, gt: images (C, H, W).
        crop_border: pixels removed at each side before the comparison.
    """
    _check(pred, gt)
    if crop_border:
        pred, gt = (x[:, crop_border:-crop_border, crop_border:-crop_border] for x in (pred, gt))
    mse = torch.mean((pred.double() - gt.double())**2).item()
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim(pred: torch.Tensor, gt: torch.Tensor, win_size: int = 7) -> float:
    """Mean SSIM of (C, H, W) images in [0, 1] (skimage's default conventions, data range 1).

    Raises:
        ValueError: an image side is smaller than ``win_size``.
    """
    _check(pred, gt)
    if min(pred.shape[-2:]) < win_size:
        raise ValueError(f'SSIM needs images of at least {win_size}x{win_size} px (win_size), '
                         f'got {tuple(pred.shape[-2:])}')
    x, y = pred.double()[:, None], gt.double()[:, None]  # channels as a batch
    n = win_size * win_size
    mean = lambda t: F.avg_pool2d(t, win_size, stride=1)  # noqa: E731  (valid windows only)
    mx, my = mean(x), mean(y)
    cov = n / (n - 1)
    vx, vy = cov * (mean(x * x) - mx * mx), cov * (mean(y * y) - my * my)
    vxy = cov * (mean(x * y) - mx * my)
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3)).mean().item()


@METRICS.register_module()
class PairedImageMetric(BaseMetric):
    """PSNR/SSIM between each prediction and its ground truth (samples without ``gt`` skipped).

    Reads the model's per-sample dicts ``{'pred': (C, H, W), 'gt': (C, H, W), ...}`` in [0, 1].

    Args:
        metrics: any of ``'psnr'``, ``'ssim'``.
        crop_border: pixels removed at each side for PSNR.
        prefix: metric name prefix (reported as ``prefix/psnr``).
    """
    default_prefix = 'sr'
    ALLOWED = ('psnr', 'ssim')

    def __init__(self, metrics: Sequence[str] = ('psnr', 'ssim'), crop_border: int = 0,
                 collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        bad = [m for m in metrics if m not in self.ALLOWED]
        if bad or not metrics:
            raise ValueError(f'metrics must be a non-empty subset of {self.ALLOWED}, got {metrics}')
        self.metrics, self.crop_border = tuple(metrics), crop_border

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if sample.get('gt') is None:
                continue
            pred, gt = sample['pred'].cpu(), sample['gt'].cpu()
            row = {}
            if 'psnr' in self.metrics:
                row['psnr'] = psnr(pred, gt, self.crop_border)
            if 'ssim' in self.metrics:
                row['ssim'] = ssim(pred, gt)
            self.results.append(row)

    def compute_metrics(self, results: list) -> dict:
        if not results:
            raise ValueError('PairedImageMetric got no sample with a ground truth (gt); use a '
                             'PairedSRDataset for the evaluation data')
        return {m: sum(r[m] for r in results) / len(results) for m in self.metrics}
