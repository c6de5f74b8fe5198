"""Embedded classification data: scikit-learn's bundled handwritten digits and variants.

The 1797 8x8 grey-level digit images that ship with scikit-learn (UCI "Optical Recognition of
Handwritten Digits", no download) form the default domain. Deterministic transforms of the same
images make extra *domains* for multi-domain learning (a stand-in for the Visual Decathlon):

==================  ===========================================================  =======
domain              transform                                                    classes
==================  ===========================================================  =======
``digits``          none (grey, replicated to 3 channels)                        10
``digits_inverted`` 255 - image                                                  10
``digits_rot90``    rotated by 90 degrees                                        10
``digits_flip``     mirrored left-right                                          10
``digits_color``    random foreground/background colour per image (seeded)       10
``digits_lowres``   down-sampled to 4x4 then back up (a lower resolution)        10
``digits_parity``   original images, label = parity of the digit (even / odd)    2
==================  ===========================================================  =======

Each sample is ``dict(inputs=uint8 tensor (3, size, size), data_samples=dict(gt_label=int))``,
which mmengine's ``default_collate`` batches into ``inputs (N, 3, size, size)`` and
``data_samples['gt_label'] (N,)``. The split is a fixed stratified permutation (seed 0):
``val_fraction`` of each class is validation, the rest training.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import DATASETS
from torch.utils.data import Dataset

from .generators import DATA_GENERATORS

__all__ = ['DIGITS_DOMAINS', 'DigitsDataset', 'load_digits_domain', 'write_digits_folder']


def _grey(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.repeat(img[None], 3, axis=0)


def _inverted(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 255 - _grey(img, rng)


def _rot90(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _grey(np.rot90(img).copy(), rng)


def _flip(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return _grey(img[:, ::-1].copy(), rng)


def _color(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    fg, bg = rng.integers(0, 256, size=(2, 3, 1, 1))
    w = img[None].astype(np.float64) / 255.0
    return np.clip(w * fg + (1 - w) * bg, 0, 255).astype(np.uint8)


def _lowres(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    small = img.reshape(4, 2, 4, 2).mean(axis=(1, 3))
    return _grey(np.repeat(np.repeat(small, 2, 0), 2, 1).astype(np.uint8), rng)


#: domain name -> (image transform on a uint8 (8, 8) image, label transform, number of classes)
DIGITS_DOMAINS: dict[str, tuple[Callable, Callable, int]] = {
    'digits': (_grey, lambda y: y, 10),
    'digits_inverted': (_inverted, lambda y: y, 10),
    'digits_rot90': (_rot90, lambda y: y, 10),
    'digits_flip': (_flip, lambda y: y, 10),
    'digits_color': (_color, lambda y: y, 10),
    'digits_lowres': (_lowres, lambda y: y, 10),
    'digits_parity': (_grey, lambda y: y % 2, 2),
}


def load_digits_domain(domain: str = 'digits',
                       split: str = 'train',
                       size: int = 16,
                       val_fraction: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """Images and labels of one digits domain.

    Args:
        domain: a key of :data:`DIGITS_DOMAINS`.
        split: ``'train'``, ``'val'`` or ``'all'``.
        size: output side length (bilinear resize from 8x8).
        val_fraction: fraction of each class held out for ``'val'``.

    Returns:
        ``images`` uint8 (N, 3, size, size) and ``labels`` int64 (N,).
    """
    if domain not in DIGITS_DOMAINS:
        raise KeyError(f'unknown digits domain {domain!r}; allowed: {sorted(DIGITS_DOMAINS)}')
    if split not in ('train', 'val', 'all'):
        raise ValueError(f'split must be train, val or all, got {split!r}')
    from sklearn.datasets import load_digits
    data = load_digits()
    raw = np.round(data.images * (255.0 / 16.0)).astype(np.uint8)
    target = data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(raw))
    is_val = np.zeros(len(raw), bool)
    for c in range(10):
        idx = order[target[order] == c]
        is_val[idx[:int(round(len(idx) * val_fraction))]] = True
    keep = {'train': ~is_val, 'val': is_val, 'all': np.ones_like(is_val)}[split]
    fn_img, fn_label, _ = DIGITS_DOMAINS[domain]
    rng = np.random.default_rng(1)  # per-image colours depend on the image index only
    imgs = np.stack([fn_img(im, rng) for im in raw])[keep]
    labels = np.array([fn_label(y) for y in target])[keep]
    x = torch.from_numpy(np.ascontiguousarray(imgs)).float()
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8), torch.from_numpy(labels)


@DATASETS.register_module()
class DigitsDataset(Dataset):
    """scikit-learn's bundled digits (or a transformed domain of them) for classification.

    Args:
        domain: a key of :data:`DIGITS_DOMAINS` (``'digits'``, ``'digits_inverted'`` ...).
        split: ``'train'``, ``'val'`` or ``'all'``.
        size: image side length.
        val_fraction: fraction of each class held out for validation.
        num_classes: if given, must equal the domain's class count (catches configs whose
            classifier does not match the data).
    """

    def __init__(self,
                 domain: str = 'digits',
                 split: str = 'train',
                 size: int = 16,
                 val_fraction: float = 0.2,
                 num_classes: int | None = None) -> None:
        self.domain = domain
        self.images, self.labels = load_digits_domain(domain, split, size, val_fraction)
        n = DIGITS_DOMAINS[domain][2]
        if num_classes is not None and num_classes != n:
            raise ValueError(f'num_classes={num_classes} does not match domain {domain!r}, which '
                             f'has {n} classes')
        self.metainfo = dict(classes=tuple(str(i) for i in range(n)), domain=domain)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.images[i], data_samples=dict(gt_label=int(self.labels[i])))


@DATA_GENERATORS.register_module(name='digits_folder')
def write_digits_folder(out_dir: str, *, seed: int = 0, domain: str = 'digits',
                        size: int = 32) -> dict:
    """Write a digits domain as an ImageNet-format folder ``out_dir/{train,val}/<class>/*.png``.

    Args:
        out_dir: output root.
        seed: unused (the split is fixed); kept for the generator signature.
        domain: a key of :data:`DIGITS_DOMAINS`.
        size: image side length.

    Returns:
        ``dict(root=out_dir, counts={split: n})``.
    """
    from PIL import Image
    counts = {}
    for split in ('train', 'val'):
        imgs, labels = load_digits_domain(domain, split, size)
        for i, (img, y) in enumerate(zip(imgs, labels)):
            d = osp.join(out_dir, split, f'{int(y):02d}')
            os.makedirs(d, exist_ok=True)
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(osp.join(d, f'{i:05d}.png'))
        counts[split] = len(labels)
    return dict(root=out_dir, counts=counts)
