"""Image classification folders: ImageNet format and the Visual Domain Decathlon.

ImageNet format: ``<data_root>/<split>/<class name>/<image>``; classes are the sorted
sub-folder names. The Visual Domain Decathlon (Bilen, Rebuffi, Jakab 2017) release unpacks to
``<data_root>/<domain>/<split>/<class id>/<image>`` (``decathlon-1.0-data.tar`` for nine
domains, ImageNet-12 from ``decathlon-1.0-data-imagenet.tar``), all images resized to a shorter
side of 72 pixels; its test split has no labels. :class:`DecathlonDataset` reads that layout;
with ``ann_file`` it reads the challenge's COCO-style json (``annotations/<domain>_<split>.json``)
instead. Documented paths (configs/cls/decathlon/): ``data/decathlon/<domain>/{train,val}``.

Samples are ``dict(inputs=uint8 tensor (3, size, size), data_samples=dict(gt_label=int))``.
"""
from __future__ import annotations

import json
import os
import os.path as osp

import numpy as np
import torch
from mmengine.registry import DATASETS
from torch.utils.data import Dataset

__all__ = ['ImageFolderDataset', 'DecathlonDataset', 'DECATHLON_DOMAINS']

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif', '.tiff', '.webp')

#: The ten Decathlon domains as named in the data release.
DECATHLON_DOMAINS = ('imagenet12', 'aircraft', 'cifar100', 'daimlerpedcls', 'dtd', 'gtsrb',
                     'vgg-flowers', 'omniglot', 'svhn', 'ucf101')


def _load_image(path: str, size: int, train: bool, rng: np.random.Generator) -> torch.Tensor:
    """Read an image, resize its shorter side to ``size`` and crop ``size x size``.

    Training: random crop position and random horizontal flip; otherwise centre crop.
    """
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert('RGB')
        w, h = im.size
        s = size / min(w, h)
        im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
        arr = np.asarray(im)
    h, w = arr.shape[:2]
    if train:
        top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    else:
        top, left = (h - size) // 2, (w - size) // 2
    arr = arr[top:top + size, left:left + size]
    if train and rng.random() < 0.5:
        arr = arr[:, ::-1]
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()


@DATASETS.register_module()
class ImageFolderDataset(Dataset):
    """Images in class sub-folders: ``<data_root>/<split>/<class>/<image>`` (ImageNet format).

    Args:
        data_root: root folder.
        split: sub-folder of ``data_root`` (``'train'``, ``'val'`` ...); ``''`` for none.
        size: output side length (shorter side resized, then cropped).
        train: random crop/flip instead of centre crop.
        classes: class folder names in label order; default: sorted sub-folders.
        num_classes: if given, must equal the number of classes found.
        seed: seed of the augmentation.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 size: int = 64,
                 train: bool | None = None,
                 classes: list[str] | None = None,
                 num_classes: int | None = None,
                 seed: int = 0) -> None:
        root = osp.join(data_root, split) if split else data_root
        if not osp.isdir(root):
            raise FileNotFoundError(f'image folder {root} does not exist (expected '
                                    f'<data_root>/<split>/<class>/<image>)')
        found = sorted(d.name for d in os.scandir(root) if d.is_dir())
        classes = list(classes) if classes is not None else found
        if not classes:
            raise FileNotFoundError(f'{root} has no class sub-folders')
        self.samples: list[tuple[str, int]] = []
        for label, c in enumerate(classes):
            folder = osp.join(root, c)
            if not osp.isdir(folder):
                raise FileNotFoundError(f'class folder {folder} does not exist')
            for dirpath, _, files in sorted(os.walk(folder)):
                for f in sorted(files):
                    if f.lower().endswith(IMG_EXTENSIONS):
                        self.samples.append((osp.join(dirpath, f), label))
        if not self.samples:
            raise FileNotFoundError(f'no images ({", ".join(IMG_EXTENSIONS)}) under {root}')
        self._init_common(classes, num_classes, size, split if train is None else train, seed)

    def _init_common(self, classes, num_classes, size, train, seed) -> None:
        if num_classes is not None and num_classes != len(classes):
            raise ValueError(f'num_classes={num_classes} does not match the data, which has '
                             f'{len(classes)} classes')
        self.metainfo = dict(classes=tuple(classes))
        self.size = size
        self.train = train == 'train' if isinstance(train, str) else bool(train)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict:
        path, label = self.samples[i]
        img = _load_image(path, self.size, self.train, self.rng)
        return dict(inputs=img, data_samples=dict(gt_label=label))


@DATASETS.register_module()
class DecathlonDataset(ImageFolderDataset):
    """One domain of the Visual Domain Decathlon.

    Args:
        domain: one of :data:`DECATHLON_DOMAINS`.
        split: ``'train'`` or ``'val'`` (the test split has no labels).
        data_root: folder holding ``<domain>/<split>/<class>/<image>``.
        ann_file: optional COCO-style json of the challenge (``images`` with ``id`` and
            ``file_name`` relative to ``img_prefix``, ``annotations`` with ``image_id`` and
            ``category_id``, ``categories``); replaces the folder scan.
        img_prefix: prefix of ``file_name`` in ``ann_file`` (default: ``data_root``).
        size: output side length (the data is stored at a shorter side of 72 pixels).
        **kwargs: see :class:`ImageFolderDataset`.
    """

    def __init__(self,
                 domain: str,
                 split: str = 'train',
                 data_root: str = 'data/decathlon',
                 ann_file: str | None = None,
                 img_prefix: str | None = None,
                 size: int = 64,
                 **kwargs) -> None:
        if domain not in DECATHLON_DOMAINS:
            raise KeyError(f'unknown Decathlon domain {domain!r}; allowed: {list(DECATHLON_DOMAINS)}')
        self.domain = domain
        if ann_file is None:
            super().__init__(osp.join(data_root, domain), split, size, **kwargs)
        else:
            self._from_json(ann_file, img_prefix or data_root, split, size, **kwargs)
        self.metainfo['domain'] = domain

    def _from_json(self, ann_file: str, prefix: str, split: str, size: int,
                   num_classes: int | None = None, train: bool | None = None,
                   classes: list[str] | None = None, seed: int = 0) -> None:
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'annotation file {ann_file} does not exist')
        with open(ann_file) as f:
            ann = json.load(f)
        cat_ids = sorted(c['id'] for c in ann['categories'])
        label_of = {c: i for i, c in enumerate(cat_ids)}
        files = {im['id']: im['file_name'] for im in ann['images']}
        self.samples = [(osp.join(prefix, files[a['image_id']]), label_of[a['category_id']])
                        for a in ann['annotations']]
        names = {c['id']: c.get('name', str(c['id'])) for c in ann['categories']}
        self._init_common([names[c] for c in cat_ids], num_classes, size,
                          split if train is None else train, seed)
