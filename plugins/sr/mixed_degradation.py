"""A mixed, random real-world-like degradation that no part of SR training contains.

The premise of "To learn image super-resolution, use a GAN to learn how to do image degradation
first" (Bulat et al., 2018) is that real LR faces are made by an *unknown* process: the only
access the method has is a set of unpaired real LR images. The first embedded chain
(:func:`.degradations.degrade`) includes a bicubic resize, which is exactly what the
bicubic-pairs baseline trains on. This chain avoids every operation a training component uses
(no bicubic, no average pooling) and mixes, per image:

* a random blur kernel at HR: anisotropic gaussian (random axes and angle), linear motion blur
  (random length and direction) or defocus disk (random radius);
* 4x downsampling by plain decimation with a random phase (aliasing), nearest-neighbour or area;
* signal-dependent (Poisson-like) or gaussian noise, grey or per-channel;
* JPEG at a random quality, before or after the noise, sometimes twice.
"""
from __future__ import annotations

import cv2
import numpy as np

from .degradations import jpeg_compress

__all__ = ['KERNELS', 'DOWNSAMPLERS', 'sample_mixed_degradation', 'random_kernel',
           'degrade_mixed']

KERNELS = ('anisotropic_gaussian', 'motion', 'defocus')
DOWNSAMPLERS = ('decimate', 'nearest', 'area')


def random_kernel(kind: str, rng: np.random.Generator, size: int = 15) -> np.ndarray:
    """A normalised ``(size, size)`` blur kernel of the given kind with random parameters."""
    r = size // 2
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    if kind == 'anisotropic_gaussian':
        s1, s2 = rng.uniform(0.6, 3.0, 2)
        t = rng.uniform(0, np.pi)
        u, v = np.cos(t) * xx + np.sin(t) * yy, -np.sin(t) * xx + np.cos(t) * yy
        k = np.exp(-0.5 * ((u / s1)**2 + (v / s2)**2))
    elif kind == 'motion':
        length, t = rng.uniform(3, 9), rng.uniform(0, np.pi)
        k = np.zeros((size, size))
        for s in np.linspace(-length / 2, length / 2, 4 * size):
            k[int(round(r + s * np.sin(t))), int(round(r + s * np.cos(t)))] += 1
        k = cv2.GaussianBlur(k, (3, 3), 0.5)
    elif kind == 'defocus':
        radius = rng.uniform(1.0, 3.0)
        k = np.clip(radius + 0.5 - np.sqrt(xx**2 + yy**2), 0, 1)
    else:
        raise ValueError(f'kernel kind must be one of {KERNELS}, got {kind!r}')
    return k / k.sum()


def sample_mixed_degradation(rng: np.random.Generator) -> dict:
    """Draw the random choices of one mixed degradation (JSON-serialisable)."""
    return dict(kernel=str(rng.choice(KERNELS)), kernel_seed=int(rng.integers(2**31)),
                downsample=str(rng.choice(DOWNSAMPLERS)), phase=[int(x) for x in
                                                                rng.integers(0, 4, 2)],
                noise=str(rng.choice(['poisson', 'gaussian'])),
                noise_level=float(rng.uniform(1.0, 10.0)), grey_noise=bool(rng.random() < 0.4),
                jpeg_quality=int(rng.integers(15, 81)), jpeg_first=bool(rng.random() < 0.5),
                second_jpeg=int(rng.integers(30, 91)) if rng.random() < 0.3 else None)


def _downsample(image: np.ndarray, how: str, scale: int, phase) -> np.ndarray:
    h, w = image.shape[:2]
    if how == 'decimate':
        return image[phase[0] % scale::scale, phase[1] % scale::scale][:h // scale, :w // scale]
    if how == 'nearest':
        return cv2.resize(image, (w // scale, h // scale), interpolation=cv2.INTER_NEAREST)
    if how == 'area':
        return cv2.resize(image, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
    raise ValueError(f'downsample must be one of {DOWNSAMPLERS}, got {how!r}')


def _noise(image: np.ndarray, params: dict, rng: np.random.Generator) -> np.ndarray:
    x = image.astype(np.float64)
    shape = x.shape[:2] + ((1, ) if params['grey_noise'] else (x.shape[2], ))
    n = rng.normal(0.0, 1.0, shape)
    if params['noise'] == 'poisson':      # std grows with the square root of the intensity
        n = n * np.sqrt(np.maximum(x, 1.0)) * params['noise_level'] / np.sqrt(128.0)
    else:
        n = n * params['noise_level']
    return np.clip(np.round(x + n), 0, 255).astype(np.uint8)


def degrade_mixed(image: np.ndarray, params: dict, rng: np.random.Generator,
                  scale: int = 4) -> np.ndarray:
    """Apply one mixed degradation to a uint8 RGB ``(H, W, 3)`` image.

    Args:
        image: HR image, sides divisible by ``scale``.
        params: From :func:`sample_mixed_degradation`.
        rng: Noise source.
        scale: Downsampling factor.

    Returns:
        uint8 ``(H / scale, W / scale, 3)``.
    """
    h, w = image.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f'image {w}x{h} is not divisible by the scale {scale}')
    k = random_kernel(params['kernel'], np.random.default_rng(params['kernel_seed']))
    out = cv2.filter2D(image.astype(np.float32), -1, k.astype(np.float32),
                       borderType=cv2.BORDER_REFLECT101)
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    out = np.ascontiguousarray(_downsample(out, params['downsample'], scale, params['phase']))
    if params['jpeg_first']:
        out = _noise(jpeg_compress(out, params['jpeg_quality']), params, rng)
    else:
        out = jpeg_compress(_noise(out, params, rng), params['jpeg_quality'])
    if params['second_jpeg'] is not None:
        out = jpeg_compress(out, params['second_jpeg'])
    return out
