"""Image-folder datasets for the two-stage SR GANs: unpaired HR/LR folders and paired folders.

"To learn image super-resolution, use a GAN to learn how to do image degradation first"
(Bulat et al., 2018) trains from *unpaired* HR faces and real LR faces
(:class:`UnpairedSRDataset`) and evaluates on LR images; where the HR image of an LR image is
known, :class:`PairedSRDataset` provides the pairs for PSNR/SSIM.

Standard transforms: read as RGB (grey replicated, RGBA composited over white, see
:mod:`plugins.sr.image_io`), resize (area) the shorter side to the target size and centre-crop,
random horizontal flip (training), to float tensors in [0, 1]. Images smaller than the target
size raise :class:`ValueError`; an empty folder raises :class:`ValueError`.

With ``auto_generate='faces_sr_synthetic'`` a missing ``data_root`` is first filled by that
registered data generator (the embedded default), so configs run out of the box.
"""
from __future__ import annotations

import os.path as osp

import numpy as np
import torch
from mmengine.registry import DATASETS
from torch.utils.data import Dataset

from .faces_synthetic import ensure_generated
from .image_io import fit_to_size, list_images, read_rgb, to_tensor

__all__ = ['UnpairedSRDataset', 'PairedSRDataset']


class _FolderBase(Dataset):

    def __init__(self, data_root: str, auto_generate: str | None, generate_options: dict | None,
                 hr_size: int, scale: int) -> None:
        if hr_size % scale:
            raise ValueError(f'hr_size={hr_size} must be divisible by scale={scale}')
        self.data_root, self.hr_size, self.scale = data_root, hr_size, scale
        self.lr_size = hr_size // scale
        if auto_generate:
            ensure_generated(data_root, auto_generate, **(generate_options or {}))
        self.metainfo = dict(hr_size=hr_size, lr_size=self.lr_size, scale=scale)

    def _path(self, folder: str) -> str:
        return folder if osp.isabs(folder) else osp.join(self.data_root, folder)

    def _load(self, path: str, size: int) -> np.ndarray:
        return fit_to_size(read_rgb(path), size, path)


@DATASETS.register_module()
class UnpairedSRDataset(_FolderBase):
    """Unpaired HR and LR images; item ``i`` pairs HR ``i`` with a random LR image.

    Args:
        data_root: root that relative folders are joined to.
        hr_folder: folder of HR images (``hr_size`` or larger).
        lr_folder: folder of real LR images (``hr_size // scale`` or larger).
        hr_size: HR side (64 in the paper).
        scale: HR/LR ratio (4 in the paper).
        flip: random horizontal flips (independently for HR and LR).
        auto_generate: name of a registered data generator to run when ``data_root`` has no
            ``meta.json`` yet (e.g. ``'faces_sr_synthetic'``); ``None``: never generate.
        generate_options: keyword options of the generator (``seed``, counts ...).
        seed: seed of the HR/LR pairing and flips (each epoch draws new ones).

    Items: ``hr`` (3, hr_size, hr_size), ``lr`` (3, lr_size, lr_size) floats in [0, 1],
    ``paired`` False, ``hr_path``, ``lr_path``. Length: the larger of the two folders.
    """

    def __init__(self,
                 data_root: str = '',
                 hr_folder: str = 'train/hr',
                 lr_folder: str = 'train/lr',
                 hr_size: int = 64,
                 scale: int = 4,
                 flip: bool = True,
                 auto_generate: str | None = None,
                 generate_options: dict | None = None,
                 seed: int = 0) -> None:
        super().__init__(data_root, auto_generate, generate_options, hr_size, scale)
        self.hr_paths = list_images(self._path(hr_folder))
        self.lr_paths = list_images(self._path(lr_folder))
        self.flip, self.seed, self._draws = flip, seed, 0

    def __len__(self) -> int:
        return max(len(self.hr_paths), len(self.lr_paths))

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng((self.seed, index, self._draws))
        self._draws += 1
        hr_path = self.hr_paths[index % len(self.hr_paths)]
        lr_path = self.lr_paths[int(rng.integers(len(self.lr_paths)))]
        hr, lr = self._load(hr_path, self.hr_size), self._load(lr_path, self.lr_size)
        if self.flip:
            hr = hr[:, ::-1] if rng.random() < 0.5 else hr
            lr = lr[:, ::-1] if rng.random() < 0.5 else lr
        return dict(hr=to_tensor(hr), lr=to_tensor(lr), paired=False, hr_path=hr_path,
                    lr_path=lr_path)


@DATASETS.register_module()
class PairedSRDataset(_FolderBase):
    """HR/LR pairs matched by file name (for PSNR/SSIM), no augmentation.

    Args:
        data_root, hr_size, scale, auto_generate, generate_options: as
            :class:`UnpairedSRDataset`.
        hr_folder: folder of HR images.
        lr_folder: folder of the LR images with the same file names (extension may differ).

    Items: ``hr``, ``lr`` tensors in [0, 1], ``paired`` True, ``hr_path``, ``lr_path``.

    Raises:
        ValueError: an HR image has no LR partner (or the other way round).
    """

    def __init__(self,
                 data_root: str = '',
                 hr_folder: str = 'test/hr',
                 lr_folder: str = 'test/lr',
                 hr_size: int = 64,
                 scale: int = 4,
                 auto_generate: str | None = None,
                 generate_options: dict | None = None) -> None:
        super().__init__(data_root, auto_generate, generate_options, hr_size, scale)
        stem = lambda p: osp.splitext(osp.basename(p))[0]  # noqa: E731
        hr = {stem(p): p for p in list_images(self._path(hr_folder))}
        lr = {stem(p): p for p in list_images(self._path(lr_folder))}
        if hr.keys() != lr.keys():
            missing = sorted(hr.keys() ^ lr.keys())[:5]
            raise ValueError(f'{hr_folder} and {lr_folder} must hold the same file names; '
                             f'unmatched: {missing}')
        self.pairs = [(hr[k], lr[k]) for k in sorted(hr)]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        hr_path, lr_path = self.pairs[index]
        hr, lr = self._load(hr_path, self.hr_size), self._load(lr_path, self.lr_size)
        return dict(hr=to_tensor(hr), lr=to_tensor(lr), paired=True, hr_path=hr_path,
                    lr_path=lr_path)
