"""Reading image folders for super-resolution, with the documented conversions.

* **Formats**: files ending in one of :data:`IMAGE_EXTENSIONS` (case-insensitive), read with
  OpenCV; other files are ignored; unreadable images raise :class:`ValueError` naming the file.
* **Grey-scale** (H, W) or (H, W, 1): the channel is replicated to RGB.
* **RGBA**: composited over a white background (what an image viewer shows), then RGB.
* **16-bit**: scaled to 8 bit (``value / 257``).
* **Size**: :func:`fit_to_size` resizes (area interpolation) so that the shorter side equals the
  target and centre-crops the longer side; an image *smaller* than the target raises
  :class:`ValueError` (upsampling it would invent the resolution the dataset claims to have).
* **Empty or missing folder**: :class:`ValueError` / :class:`FileNotFoundError`.
"""
from __future__ import annotations

import os
import os.path as osp

import cv2
import numpy as np
import torch

__all__ = ['IMAGE_EXTENSIONS', 'list_images', 'read_rgb', 'to_rgb', 'fit_to_size', 'to_tensor',
           'save_rgb']

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


def list_images(root: str) -> list[str]:
    """Sorted paths of the images directly in ``root``.

    Raises:
        FileNotFoundError: ``root`` is not a directory.
        ValueError: ``root`` holds no image file.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'image folder {root} does not exist')
    paths = sorted(
        osp.join(root, n) for n in os.listdir(root) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not paths:
        raise ValueError(f'image folder {root} is empty: no file ending in {IMAGE_EXTENSIONS}')
    return paths


def to_rgb(image: np.ndarray, name: str = 'image') -> np.ndarray:
    """Convert grey (H, W) / (H, W, 1), RGB and RGBA (H, W, 4) arrays to uint8 RGB (H, W, 3).

    RGBA is composited over white; 16-bit values are scaled to 8 bit; float images are taken
    to be in [0, 1].
    """
    if image.dtype == np.uint16:
        image = (image.astype(np.float64) / 257.0).round().astype(np.uint8)
    elif image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    elif np.issubdtype(image.dtype, np.floating):
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f'{name}: unsupported pixel type {image.dtype} (uint8, uint16, bool or '
                         f'float in [0, 1])')
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f'{name}: expected grey, RGB or RGBA, got shape {image.shape}')
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[..., 3:].astype(np.float32) / 255.0
        rgb = image[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return rgb.round().astype(np.uint8)
    return image


def read_rgb(path: str) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3) (conversions: see the module docstring)."""
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f'cannot read image {path} (corrupt or not an image)')
    if image.ndim == 3 and image.shape[2] == 3:
        image = image[..., ::-1]
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[..., [2, 1, 0, 3]]
    return to_rgb(np.ascontiguousarray(image), path)


def fit_to_size(image: np.ndarray, size: int, name: str = 'image') -> np.ndarray:
    """Resize (area) so the shorter side is ``size``, then centre-crop to (size, size, C).

    Raises:
        ValueError: the shorter side is below ``size``.
    """
    h, w = image.shape[:2]
    if min(h, w) < size:
        raise ValueError(f'{name} is {w}x{h} px, smaller than the required {size}x{size}; use '
                         f'larger images or a smaller size setting')
    if min(h, w) != size:
        ratio = size / min(h, w)
        new_w, new_h = max(size, round(w * ratio)), max(size, round(h * ratio))
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        h, w = new_h, new_w
    top, left = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(image[top:top + size, left:left + size])


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / 255.0


def save_rgb(path: str, image: np.ndarray | torch.Tensor) -> None:
    """Write an RGB image, uint8 (H, W, 3) or a tensor (3, H, W) in [0, 1]."""
    if isinstance(image, torch.Tensor):
        image = (image.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round()
        image = image.astype(np.uint8)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(image[..., ::-1])):
        raise ValueError(f'cannot write image {path} (unknown extension?)')
