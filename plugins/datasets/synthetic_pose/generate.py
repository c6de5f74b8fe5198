"""The ``mpii_synthetic`` generator: a data set of rendered figures in MMPose's MPII format.

Layout written under ``out_dir``::

    images/1000000.jpg ...   train images (ids 1000000 + i)
    images/2000000.jpg ...   val images (ids 2000000 + i)
    annotations/mpii_train.json
    annotations/mpii_val.json
    annotations/mpii_gt_val.mat   head boxes for PCKh (MpiiDataset's ``headbox_file``)
    annotations/generator.json    the generator's name, seed and options

Sample ``i`` of a split depends only on ``(seed, split, i)``, so the val set is the same for
any ``num_train``.
"""
import json
import multiprocessing
import os
import os.path as osp
import time
from dataclasses import asdict
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..generators import DATA_GENERATORS
from .scene import SceneOptions, render_sample
from .writer import mpii_record, write_gt_mat, write_json

SPLITS = {'train': 1, 'val': 2}  # split code: seeds the split's streams and prefixes image ids
MAX_PER_SPLIT = 1_000_000
IMAGE_FORMATS = ('jpg', 'png')
CHUNK = 50  # images per task of a worker


def _render_chunk(task: tuple) -> List[Tuple[dict, list]]:
    """Render and write images ``start..stop-1`` of a split; their records and head boxes."""
    seed, code, start, stop, img_size, scene, img_dir, img_format, params = task
    out = []
    for i in range(start, stop):
        rng = np.random.default_rng([seed, code, i])
        sample = render_sample(rng, img_size, scene)
        name = f'{code * MAX_PER_SPLIT + i}.{img_format}'
        if not cv2.imwrite(osp.join(img_dir, name), sample.image, params):
            raise OSError(f'could not write image {osp.join(img_dir, name)}')
        out.append((mpii_record(sample, name), sample.head_box))
    return out


def _map(fn, tasks: list, workers: int):
    """``map(fn, tasks)`` in order, over ``workers`` forked processes when more than one."""
    if workers == 1 or len(tasks) < 2:
        yield from map(fn, tasks)
        return
    ctx = multiprocessing.get_context('fork')
    with ctx.Pool(min(workers, len(tasks))) as pool:
        yield from pool.imap(fn, tasks)


@DATA_GENERATORS.register_module(name='mpii_synthetic')
def generate_mpii_synthetic(out_dir: str, *, seed: int = 0, num_train: int = 4000,
                            num_val: int = 500, img_size: int = 128, img_format: str = 'jpg',
                            jpeg_quality: int = 92, workers: Optional[int] = None,
                            **opts) -> dict:
    """Rendered articulated figures with MPII joints (MMPose MPII json + head boxes).

    Args:
        out_dir: output folder (created; existing files of the same names are overwritten).
        seed: random seed; the output is a deterministic function of the seed and options.
        num_train: number of training images.
        num_val: number of held-out validation images.
        img_size: side of the square images in pixels.
        img_format: ``jpg`` or ``png``.
        jpeg_quality: JPEG quality (0-100).
        workers: processes that render in parallel (``None``: one per CPU core); the files
            are the same for any number of workers.
        **opts: scene options, see :class:`~.scene.SceneOptions` (e.g. ``p_occlusion``,
            ``p_truncation``, ``max_rotation``, ``person_size``, ``p_back_view``).

    Returns:
        Summary dict: ``out_dir``, ``img_dir``, ``train_ann``, ``val_ann``, ``headbox_file``,
        ``num_train``, ``num_val``, ``img_size``, ``seed``, ``seconds``.
    """
    scene = SceneOptions.from_dict(opts)
    if img_format not in IMAGE_FORMATS:
        raise ValueError(f'img_format must be one of {IMAGE_FORMATS}, got {img_format!r}')
    if not 32 <= int(img_size) <= 2048:
        raise ValueError(f'img_size must be in [32, 2048], got {img_size}')
    for name, n in (('num_train', num_train), ('num_val', num_val)):
        if not 0 <= int(n) < MAX_PER_SPLIT:
            raise ValueError(f'{name} must be in [0, {MAX_PER_SPLIT}), got {n}')
    start = time.time()
    img_dir, ann_dir = osp.join(out_dir, 'images'), osp.join(out_dir, 'annotations')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    params = ([cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if img_format == 'jpg' else
              [cv2.IMWRITE_PNG_COMPRESSION, 1])

    workers = max(1, int(workers or os.cpu_count() or 1))
    paths = {}
    for split, count in (('train', int(num_train)), ('val', int(num_val))):
        code = SPLITS[split]
        chunks = [(int(seed), code, i, min(i + CHUNK, count), int(img_size), scene, img_dir,
                   img_format, params) for i in range(0, count, CHUNK)]
        records, head_boxes = [], []
        for part in _map(_render_chunk, chunks, workers):
            for record, box in part:
                records.append(record)
                head_boxes.append(box)
        paths[split] = osp.join(ann_dir, f'mpii_{split}.json')
        write_json(paths[split], records)
        if split == 'val':
            paths['headbox'] = osp.join(ann_dir, 'mpii_gt_val.mat')
            write_gt_mat(paths['headbox'], records, head_boxes)

    meta = dict(generator='mpii_synthetic', seed=int(seed), num_train=int(num_train),
                num_val=int(num_val), img_size=int(img_size), img_format=img_format,
                jpeg_quality=int(jpeg_quality), options=asdict(scene))
    with open(osp.join(ann_dir, 'generator.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return dict(out_dir=out_dir, img_dir=img_dir, train_ann=paths['train'],
                val_ann=paths['val'], headbox_file=paths['headbox'], num_train=int(num_train),
                num_val=int(num_val), img_size=int(img_size), seed=int(seed),
                seconds=round(time.time() - start, 2))
