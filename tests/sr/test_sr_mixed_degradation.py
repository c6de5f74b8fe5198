"""The mixed real-world-like degradation: kernels, decimation, noise/JPEG order, generator."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from plugins.sr.faces_synthetic import generate_faces_sr_synthetic
from plugins.sr.image_io import read_rgb
from plugins.sr.mixed_degradation import (KERNELS, degrade_mixed, random_kernel,
                                          sample_mixed_degradation)


@pytest.mark.parametrize('kind', KERNELS)
def test_kernels_are_normalised_blurs(kind):
    k = random_kernel(kind, np.random.default_rng(3))
    assert k.shape == (15, 15) and k.min() >= 0 and abs(k.sum() - 1) < 1e-9
    # a blur: the centre of mass is the centre and the kernel spreads over several pixels
    yy, xx = np.mgrid[-7:8, -7:8]
    assert abs((k * xx).sum()) < 0.5 and abs((k * yy).sum()) < 0.5
    assert (k > 1e-3).sum() >= 5


def test_motion_kernel_is_elongated():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[-7:8, -7:8]
    for _ in range(5):
        k = random_kernel('motion', rng)
        cov = np.cov(np.stack([xx.ravel(), yy.ravel()]), aweights=k.ravel())
        ev = np.linalg.eigvalsh(cov)
        assert ev[1] > 3 * ev[0]


def _params(**kw):
    p = dict(kernel='defocus', kernel_seed=0, downsample='decimate', phase=[1, 2],
             noise='gaussian', noise_level=0.0, grey_noise=False, jpeg_quality=100,
             jpeg_first=False, second_jpeg=None)
    p.update(kw)
    return p


def test_decimation_takes_every_fourth_pixel_at_the_phase():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (64, 64, 1)).astype(np.uint8)
    img = np.repeat(grey, 3, -1)                     # grey: JPEG chroma subsampling is lossless
    out = degrade_mixed(img, _params(), rng)
    k = random_kernel('defocus', np.random.default_rng(0)).astype(np.float32)
    ref = np.clip(np.round(cv2.filter2D(img.astype(np.float32), -1, k,
                                        borderType=cv2.BORDER_REFLECT101)), 0, 255)[1::4, 2::4]
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    # JPEG at quality 100 still quantises a little
    assert np.abs(out.astype(float) - ref).mean() < 2.0


def test_degradation_is_not_bicubic_and_noise_scales_with_level():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:64, :64]
    img = np.stack([128 + 60 * np.sin(xx / 3.0) * np.cos(yy / 5.0)] * 3, -1).astype(np.uint8)
    bicubic = cv2.resize(img, (16, 16), interpolation=cv2.INTER_CUBIC).astype(float)
    out = degrade_mixed(img, _params(kernel='anisotropic_gaussian', kernel_seed=5), rng)
    assert np.abs(out - bicubic).mean() > 3.0
    flat = np.full((64, 64, 3), 120, np.uint8)
    quiet = degrade_mixed(flat, _params(noise_level=1.0, downsample='area'), rng).std()
    loud = degrade_mixed(flat, _params(noise_level=10.0, downsample='area'), rng).std()
    assert loud > 4 * quiet


def test_sampled_parameters_cover_the_choices():
    rng = np.random.default_rng(0)
    ps = [sample_mixed_degradation(rng) for _ in range(200)]
    assert {p['kernel'] for p in ps} == set(KERNELS)
    assert {p['downsample'] for p in ps} == {'decimate', 'nearest', 'area'}
    assert {p['jpeg_first'] for p in ps} == {True, False}
    json.dumps(ps)                                   # recorded in meta.json


def test_generator_mixed_option(tmp_path):
    out = str(tmp_path / 'mixed')
    meta = generate_faces_sr_synthetic(out, num_train_hr=2, num_train_lr=2, num_test=2,
                                       degradation='mixed')
    assert 'decimation' in meta['degradation']
    assert 'kernel' in meta['test_degradations'][0]
    assert read_rgb(osp.join(out, 'test', 'lr', '00000.png')).shape == (16, 16, 3)
    with pytest.raises(ValueError, match='degradation must be one of'):
        generate_faces_sr_synthetic(out, degradation='bicubic')
