"""PSNR/SSIM and the Fréchet distance of plugins/sr against independent computations."""
import math

import numpy as np
import pytest
import skimage.data
import torch
from mmengine.registry import METRICS
from skimage.metrics import structural_similarity
from skimage.transform import resize

import plugins  # noqa: F401
from plugins.sr import frechet_distance, psnr, ssim
from plugins.sr.image_io import to_tensor


@pytest.fixture(scope='module')
def astronaut_pair():
    hr = (resize(skimage.data.astronaut(), (48, 48), anti_aliasing=True) * 255).round()
    hr = hr.astype(np.uint8)
    rng = np.random.default_rng(0)
    noisy = np.clip(hr + rng.normal(0, 12, hr.shape), 0, 255).round().astype(np.uint8)
    return to_tensor(hr), to_tensor(noisy)


def test_psnr_formula(astronaut_pair):
    a, b = astronaut_pair
    mse = float(np.mean((a.numpy().astype(np.float64) - b.numpy())**2))
    assert psnr(a, b) == pytest.approx(10 * math.log10(1 / mse), abs=1e-9)
    assert psnr(a, a) == math.inf
    # a constant offset of 0.1 everywhere: MSE = 0.01 -> 20 dB
    assert psnr(torch.full((3, 8, 8), 0.5), torch.full((3, 8, 8), 0.6)) == pytest.approx(20.0)


def test_ssim_matches_skimage(astronaut_pair):
    a, b = astronaut_pair
    ref = structural_similarity(a.permute(1, 2, 0).numpy().astype(np.float64),
                                b.permute(1, 2, 0).numpy().astype(np.float64), channel_axis=2,
                                data_range=1.0)
    assert ssim(a, b) == pytest.approx(ref, abs=1e-9)
    assert ssim(a, a) == pytest.approx(1.0)


def test_paired_metric_through_registry(astronaut_pair):
    a, b = astronaut_pair
    metric = METRICS.build(dict(type='PairedImageMetric', prefix='t'))
    metric.dataset_meta = {}
    metric.process({}, [dict(pred=b, gt=a), dict(pred=a, gt=b), dict(pred=a)])  # last: no gt
    out = metric.evaluate(2)
    assert out['t/psnr'] == pytest.approx(psnr(b, a))
    assert out['t/ssim'] == pytest.approx(ssim(b, a))


def test_frechet_distance_diagonal_gaussians():
    # for diagonal covariances: |mu1-mu2|^2 + sum (s1 + s2 - 2 sqrt(s1 s2))
    mu1, mu2 = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    s1, s2 = np.array([1.0, 4.0]), np.array([9.0, 1.0])
    expected = 1 + 4 + (1 + 9 - 2 * 3) + (4 + 1 - 2 * 2)
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected)
    assert frechet_distance(mu1, np.diag(s1), mu1, np.diag(s1)) == pytest.approx(0, abs=1e-9)


def test_frechet_metric_patch_features_hand_computation():
    rng = np.random.default_rng(0)
    pred = [torch.from_numpy(rng.random((1, 4, 4))).float() for _ in range(3)]
    real = [torch.from_numpy(rng.random((1, 4, 4))).float() for _ in range(3)]
    metric = METRICS.build(dict(type='FrechetDistanceMetric', patch_size=2, patch_stride=2,
                                prefix='t'))
    metric.dataset_meta = {}
    metric.process({}, [dict(pred=p, real=r) for p, r in zip(pred, real)])
    out = metric.evaluate(3)['t/fd_patch']

    def patches(images):  # non-overlapping 2x2 patches, flattened row-major
        return np.array([im[0, i:i + 2, j:j + 2].numpy().ravel() for im in images
                         for i in (0, 2) for j in (0, 2)], dtype=np.float64)

    fp, fr = patches(pred), patches(real)
    expected = frechet_distance(fp.mean(0), np.cov(fp.T), fr.mean(0), np.cov(fr.T))
    assert out == pytest.approx(expected, rel=1e-5)


def test_metric_errors():
    with pytest.raises(ValueError, match='psnr'):
        METRICS.build(dict(type='PairedImageMetric', metrics=('lpips', )))
    with pytest.raises(ValueError, match='patch'):
        METRICS.build(dict(type='FrechetDistanceMetric', features='inception'))
    with pytest.raises(ValueError, match='7x7'):
        ssim(torch.rand(3, 5, 5), torch.rand(3, 5, 5))
    with pytest.raises(ValueError, match='same shape'):
        psnr(torch.rand(3, 8, 8), torch.rand(3, 8, 4))
