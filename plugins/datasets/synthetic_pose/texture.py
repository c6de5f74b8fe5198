"""Colours and procedural textures (clothing, occluders, backgrounds) for the synthetic set.

All functions draw from the given ``numpy.random.Generator`` only and return ``uint8`` images
of shape ``(H, W, 3)`` in BGR order (OpenCV's).
"""
from functools import lru_cache
from typing import Tuple

import cv2
import numpy as np

TEXTURE_KINDS = ('solid', 'stripes', 'checker', 'noise')
# Skin tones (BGR), from dark to light; a sampled tone is jittered around one of them.
SKIN_TONES = np.array([[60, 80, 120], [80, 110, 160], [100, 140, 195], [130, 170, 220],
                       [150, 190, 235]], dtype=np.float32)


def random_colour(rng: np.random.Generator, saturation: Tuple[float, float] = (0.2, 1.0),
                  value: Tuple[float, float] = (0.15, 1.0)) -> np.ndarray:
    """A random BGR colour (float32, 0..255) from a uniform hue and the given S/V ranges."""
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255,
                      rng.uniform(*value) * 255]]], dtype=np.float32)
    hsv = np.clip(hsv, 0, [179, 255, 255]).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def skin_colour(rng: np.random.Generator) -> np.ndarray:
    """A random skin tone (BGR float32)."""
    tone = SKIN_TONES[rng.integers(len(SKIN_TONES))]
    return np.clip(tone + rng.normal(0, 8, 3), 0, 255).astype(np.float32)


@lru_cache(maxsize=16)
def _grid(shape: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    h, w = shape
    x, y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def smooth_noise(rng: np.random.Generator, shape: Tuple[int, int], cells: int,
                 channels: int = 1) -> np.ndarray:
    """Low-frequency noise in ``[0, 1]``: a ``cells x cells`` random grid, bicubically upsampled.

    Returns:
        ``(H, W)`` or ``(H, W, channels)`` float32.
    """
    h, w = shape
    grid = rng.random((cells, cells, channels)).astype(np.float32)
    out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0, 1) if channels > 1 else np.clip(out, 0, 1).reshape(h, w)


def texture(rng: np.random.Generator, shape: Tuple[int, int], colour: np.ndarray,
            kind: str = 'solid', scale: float = 8.0) -> np.ndarray:
    """A textured patch around a base colour.

    Args:
        rng: random generator.
        shape: ``(H, W)``.
        colour: base BGR colour (3,).
        kind: one of :data:`TEXTURE_KINDS`.
        scale: period of the pattern in pixels.

    Returns:
        ``(H, W, 3)`` float32 in 0..255.
    """
    if kind not in TEXTURE_KINDS:
        raise ValueError(f'unknown texture kind {kind!r}; choose one of {TEXTURE_KINDS}')
    h, w = shape = (int(shape[0]), int(shape[1]))
    colour = np.asarray(colour, dtype=np.float32)
    if kind == 'solid':
        shade = 0.9 + 0.2 * smooth_noise(rng, shape, 3)
        return np.clip(shade[..., None] * colour, 0, 255)
    second = random_colour(rng)
    if kind == 'noise':
        mix = smooth_noise(rng, shape, max(2, int(w / scale)))
    else:
        x, y = _grid(shape)
        theta = rng.uniform(0, np.pi)
        u = x * np.float32(np.cos(theta)) + y * np.float32(np.sin(theta))
        if kind == 'stripes':
            mix = (np.sin(2 * np.pi * u / scale + rng.uniform(0, 6.3)) > 0).astype(np.float32)
        else:  # checker
            v = y * np.float32(np.cos(theta)) - x * np.float32(np.sin(theta))
            mix = ((np.floor(u / scale) + np.floor(v / scale)) % 2).astype(np.float32)
        mix *= np.float32(rng.uniform(0.3, 0.8))
    mix = mix[..., None]
    return np.clip(colour + (second - colour) * mix, 0, 255)


def random_texture(rng: np.random.Generator, shape: Tuple[int, int],
                   colour: np.ndarray, probs: Tuple[float, ...] = (0.4, 0.25, 0.15, 0.2),
                   scale: Tuple[float, float] = (3.0, 10.0)) -> np.ndarray:
    """:func:`texture` with a random kind (weights ``probs`` over :data:`TEXTURE_KINDS`)."""
    kind = TEXTURE_KINDS[rng.choice(len(TEXTURE_KINDS), p=np.asarray(probs) / sum(probs))]
    return texture(rng, shape, colour, kind, float(rng.uniform(*scale)))


def background(rng: np.random.Generator, shape: Tuple[int, int], clutter: int = 8) -> np.ndarray:
    """A random background: a colour gradient with low-frequency noise, an optional texture,
    and up to ``clutter`` random shapes (rectangles, ellipses and limb-like bars).

    Args:
        rng: random generator.
        shape: ``(H, W)``.
        clutter: maximum number of random shapes.

    Returns:
        ``(H, W, 3)`` uint8 image.
    """
    h, w = shape = (int(shape[0]), int(shape[1]))
    c0, c1 = random_colour(rng), random_colour(rng)
    x, y = _grid(shape)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = x * np.float32(np.cos(theta)) + y * np.float32(np.sin(theta))
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    img = c0 + (c1 - c0) * ramp[..., None]
    img += (smooth_noise(rng, shape, int(rng.integers(2, 8)), 3) - 0.5) * np.float32(
        rng.uniform(20, 80))
    if rng.random() < 0.3:
        tex = random_texture(rng, shape, random_colour(rng), scale=(4.0, 16.0))
        alpha = rng.uniform(0.3, 1.0)
        img = img * (1 - alpha) + tex * alpha
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, clutter + 1))):
        colour = tuple(float(c) for c in random_colour(rng))
        kind = rng.integers(3)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        size = rng.uniform(0.05, 0.35) * max(h, w)
        if kind == 0:
            pts = cv2.boxPoints(((cx, cy), (size, size * rng.uniform(0.2, 1.0)),
                                 rng.uniform(0, 180)))
            cv2.fillConvexPoly(img, np.round(pts).astype(np.int32), colour, cv2.LINE_AA)
        elif kind == 1:
            cv2.ellipse(img, (int(cx), int(cy)),
                        (int(size / 2) + 1, int(size / 2 * rng.uniform(0.3, 1.0)) + 1),
                        rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_AA)
        else:
            ang = rng.uniform(0, 2 * np.pi)
            p2 = (int(cx + size * np.cos(ang)), int(cy + size * np.sin(ang)))
            cv2.line(img, (int(cx), int(cy)), p2, colour,
                     max(1, int(rng.uniform(0.01, 0.06) * max(h, w))), cv2.LINE_AA)
    return img
