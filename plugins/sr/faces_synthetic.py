"""Embedded face data for the two-stage SR GANs, built from photographs installed packages ship.

The paper trains on HR faces (CelebA, AFLW, LS3D-W, VGGFace2) and real LR faces from WIDER FACE,
which cannot be downloaded here. This generator makes a small stand-in from the faces found in
photographs that come with the installed packages, no download involved:

* ``astronaut`` (scikit-image, Eileen Collins), ``camera`` (scikit-image, the cameraman,
  grey-scale, replicated to RGB) and ``grace_hopper.jpg`` (matplotlib's sample data).

Each sample is a randomly jittered face crop (centre shift, scale, rotation, flip, brightness and
contrast), area-resized to ``hr_size``. Three disjoint sets of random crops are drawn:

* ``train/hr``: clean HR faces (hr_size x hr_size);
* ``train/lr``: *other* crops degraded by :func:`~plugins.sr.degradations.degrade` (blur, 4x
  downsampling, noise, JPEG) - the unpaired "real-world" LR side;
* ``test/hr`` + ``test/lr``: held-out crops and their degradation with the same random chain,
  same file names - pairs for PSNR/SSIM on "real" LR.

Honest limits: only three identities, so train and test share identities (different crops,
poses and degradation draws); it exercises the method, it does not measure generalisation to
unseen faces. Layout written under ``out_dir``: the folders above and ``meta.json``.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil
import tempfile

import cv2
import numpy as np

from plugins.datasets.generators import DATA_GENERATORS

from .degradations import degrade, sample_degradation
from .mixed_degradation import degrade_mixed, sample_mixed_degradation
from .image_io import save_rgb, to_rgb

__all__ = ['FACE_SOURCES', 'load_face_sources', 'random_face_crop', 'generate_faces_sr_synthetic',
           'ensure_generated']

#: name -> (loader description, face box x, y, w, h in source pixels). Boxes from OpenCV's
#: frontal-face Haar cascade (astronaut, grace_hopper) and by eye (camera, in profile).
FACE_SOURCES = {
    'astronaut': ('skimage.data.astronaut', (177, 66, 95, 95)),
    'camera': ('skimage.data.camera', (160, 70, 105, 110)),
    'grace_hopper': ('matplotlib sample_data/grace_hopper.jpg', (155, 105, 222, 222)),
}


def load_face_sources() -> dict[str, tuple[np.ndarray, tuple]]:
    """The source photographs (uint8 RGB) and face boxes; only files installed locally."""
    import matplotlib
    import skimage.data
    images = {
        'astronaut': skimage.data.astronaut(),
        'camera': skimage.data.camera(),
        'grace_hopper': cv2.imread(
            osp.join(matplotlib.get_data_path(), 'sample_data', 'grace_hopper.jpg'))[..., ::-1],
    }
    return {k: (to_rgb(np.ascontiguousarray(v), k), FACE_SOURCES[k][1]) for k, v in images.items()}


def random_face_crop(image: np.ndarray, box: tuple, size: int,
                     rng: np.random.Generator) -> np.ndarray:
    """A jittered square crop around ``box`` (x, y, w, h), area-resized to (size, size, 3)."""
    x, y, w, h = box
    side = max(w, h) * rng.uniform(1.1, 1.5)
    cx = x + w / 2 + rng.uniform(-0.08, 0.08) * w
    cy = y + h / 2 + rng.uniform(-0.08, 0.08) * h
    angle = rng.uniform(-12, 12)
    crop = int(round(side))
    # rotate about the face centre and move it to the crop centre, at source resolution
    m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    m[:, 2] += (crop / 2 - cx, crop / 2 - cy)
    patch = cv2.warpAffine(image, m, (crop, crop), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT101)
    patch = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    gain, bias = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
    return np.clip(patch.astype(np.float32) * gain + bias, 0, 255).round().astype(np.uint8)


#: name -> (sample parameters, apply); see ``degradation`` of the generator
DEGRADATIONS = {
    'simple': (sample_degradation, degrade),
    'mixed': (sample_mixed_degradation, degrade_mixed),
}
DEGRADATION_TEXT = {
    'simple': 'gaussian blur sigma~U(0.4,2.0) px -> 4x resize (area|bilinear|cubic) -> '
    'gaussian noise sigma~U(2,12)/255 -> JPEG quality~U{20..70}',
    'mixed': 'random kernel (anisotropic gaussian|motion|defocus) -> 4x decimation with random '
    'phase|nearest|area -> Poisson-like|gaussian noise (grey or colour) and JPEG quality~'
    'U{15..80} in random order -> sometimes a second JPEG; no bicubic, no pooling',
}


@DATA_GENERATORS.register_module(name='faces_sr_synthetic')
def generate_faces_sr_synthetic(out_dir: str,
                                *,
                                seed: int = 0,
                                num_train_hr: int = 384,
                                num_train_lr: int = 384,
                                num_test: int = 48,
                                hr_size: int = 64,
                                scale: int = 4,
                                degradation: str = 'simple') -> dict:
    """Write the embedded face SR data set (see the module docstring) under ``out_dir``.

    Args:
        out_dir: output folder (created; existing content of the sub-folders is replaced).
        seed: random seed (same seed, same files).
        num_train_hr, num_train_lr, num_test: numbers of images.
        hr_size: HR side in pixels; LR side is ``hr_size // scale``.
        scale: downsampling factor of the degradation.
        degradation: ``'simple'`` (:func:`~plugins.sr.degradations.degrade`: gaussian blur,
            area/bilinear/cubic resize, gaussian noise, JPEG) or ``'mixed'``
            (:func:`~plugins.sr.mixed_degradation.degrade_mixed`: random kernel, decimation,
            Poisson/gaussian noise, JPEG in random order; no operation any training component
            uses).

    Returns:
        summary: folders, counts, sources and the degradation ranges.
    """
    if hr_size % scale:
        raise ValueError(f'hr_size={hr_size} must be divisible by scale={scale}')
    if min(num_train_hr, num_train_lr, num_test) < 1:
        raise ValueError('num_train_hr, num_train_lr and num_test must be >= 1')
    if degradation not in DEGRADATIONS:
        raise ValueError(f'degradation must be one of {tuple(DEGRADATIONS)}, got '
                         f'{degradation!r}')
    sample, apply = DEGRADATIONS[degradation]
    rng = np.random.default_rng(seed)
    sources = load_face_sources()
    names = sorted(sources)
    os.makedirs(out_dir, exist_ok=True)
    # write into a temporary folder, then move, so a half-written data set never looks complete
    tmp = tempfile.mkdtemp(prefix='.faces_sr_', dir=out_dir)
    degradations = []

    def crop(i: int) -> np.ndarray:
        image, box = sources[names[i % len(names)]]
        return random_face_crop(image, box, hr_size, rng)

    for i in range(num_train_hr):
        save_rgb(osp.join(tmp, 'train', 'hr', f'{i:05d}.png'), crop(i))
    for i in range(num_train_lr):
        params = sample(rng)
        save_rgb(osp.join(tmp, 'train', 'lr', f'{i:05d}.png'), apply(crop(i), params, rng, scale))
    for i in range(num_test):
        hr = crop(i)
        params = sample(rng)
        degradations.append(params if isinstance(params, dict) else params.as_dict())
        save_rgb(osp.join(tmp, 'test', 'hr', f'{i:05d}.png'), hr)
        save_rgb(osp.join(tmp, 'test', 'lr', f'{i:05d}.png'), apply(hr, params, rng, scale))
    summary = dict(
        generator='faces_sr_synthetic', seed=seed, hr_size=hr_size, scale=scale,
        sources={k: FACE_SOURCES[k][0] for k in names},
        counts=dict(train_hr=num_train_hr, train_lr=num_train_lr, test_pairs=num_test),
        folders=dict(train_hr='train/hr', train_lr='train/lr', test_hr='test/hr',
                     test_lr='test/lr'),
        degradation=DEGRADATION_TEXT[degradation],
        test_degradations=degradations)
    with open(osp.join(tmp, 'meta.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    for part in ('train', 'test', 'meta.json'):
        target = osp.join(out_dir, part)
        if osp.isdir(target):
            shutil.rmtree(target)
        elif osp.exists(target):
            os.remove(target)
        os.replace(osp.join(tmp, part), target)
    shutil.rmtree(tmp, ignore_errors=True)
    summary['out_dir'] = out_dir
    return summary


def ensure_generated(data_root: str, generator: str = 'faces_sr_synthetic', **options) -> None:
    """Run the registered generator into ``data_root`` unless its ``meta.json`` is there."""
    if not osp.isfile(osp.join(data_root, 'meta.json')):
        fn = DATA_GENERATORS.get(generator)
        if fn is None:
            raise KeyError(f'no data generator {generator!r}; registered: '
                           f'{sorted(DATA_GENERATORS.module_dict)}')
        fn(data_root, **options)
