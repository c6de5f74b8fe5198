"""Real-world-like degradations for the embedded LR faces: blur, downsampling, noise, JPEG.

The real LR faces of "To learn image super-resolution, use a GAN to learn how to do image
degradation first" (Bulat et al., 2018) come from the wild (WIDER FACE) and carry unknown blur,
sensor noise and compression. The embedded data set imitates such images with a random chain
``gaussian blur -> 4x downsampling (random interpolation) -> gaussian noise -> JPEG``
(the first-order model commonly used for real-world SR); the networks never see its
parameters.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

__all__ = ['DegradationParams', 'sample_degradation', 'degrade', 'jpeg_compress',
           'gaussian_blur', 'add_gaussian_noise']

_INTERPOLATIONS = {'area': cv2.INTER_AREA, 'bilinear': cv2.INTER_LINEAR, 'cubic': cv2.INTER_CUBIC}


@dataclass
class DegradationParams:
    """Parameters of one degradation.

    Attributes:
        blur_sigma: std of the gaussian blur at HR, pixels (0: none).
        interpolation: downsampling interpolation, one of ``area``, ``bilinear``, ``cubic``.
        noise_sigma: std of additive gaussian noise at LR, in 8-bit levels (0: none).
        jpeg_quality: JPEG quality 1..100 (100 still quantises; ``None``: no compression).
    """
    blur_sigma: float = 1.0
    interpolation: str = 'area'
    noise_sigma: float = 5.0
    jpeg_quality: int | None = 50

    def as_dict(self) -> dict:
        return asdict(self)


def sample_degradation(rng: np.random.Generator,
                       blur_sigma: tuple = (0.4, 2.0),
                       noise_sigma: tuple = (2.0, 12.0),
                       jpeg_quality: tuple = (20, 70),
                       interpolations: tuple = ('area', 'bilinear', 'cubic')) -> DegradationParams:
    """Draw degradation parameters uniformly from the given ranges."""
    return DegradationParams(
        blur_sigma=float(rng.uniform(*blur_sigma)),
        interpolation=str(rng.choice(interpolations)),
        noise_sigma=float(rng.uniform(*noise_sigma)),
        jpeg_quality=int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1)))


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a uint8 (H, W, 3) image with std ``sigma`` px (kernel 2*ceil(3s)+1)."""
    if sigma <= 0:
        return image
    k = 2 * int(np.ceil(3 * sigma)) + 1
    return cv2.GaussianBlur(image, (k, k), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT101)


def add_gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add N(0, sigma^2) noise (8-bit levels, independent per channel) and round to uint8."""
    if sigma <= 0:
        return image
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy.round(), 0, 255).astype(np.uint8)


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode a uint8 RGB image as JPEG with the given quality (1..100)."""
    if not 1 <= quality <= 100:
        raise ValueError(f'jpeg quality must be in 1..100, got {quality}')
    ok, buf = cv2.imencode('.jpg', image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError('OpenCV failed to encode JPEG')
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def degrade(image: np.ndarray, params: DegradationParams, rng: np.random.Generator,
            scale: int = 4) -> np.ndarray:
    """Blur, downsample by ``scale``, add noise, JPEG-compress a uint8 RGB (H, W, 3) image.

    Returns:
        uint8 (H/scale, W/scale, 3).
    """
    h, w = image.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f'image {w}x{h} is not divisible by the scale {scale}')
    if params.interpolation not in _INTERPOLATIONS:
        raise ValueError(f'interpolation must be one of {tuple(_INTERPOLATIONS)}, got '
                         f'{params.interpolation!r}')
    out = gaussian_blur(image, params.blur_sigma)
    out = cv2.resize(out, (w // scale, h // scale),
                     interpolation=_INTERPOLATIONS[params.interpolation])
    out = add_gaussian_noise(out, params.noise_sigma, rng)
    if params.jpeg_quality is not None:
        out = jpeg_compress(out, params.jpeg_quality)
    return out
