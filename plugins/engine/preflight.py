"""Check a config's data sources before training, with one clear error per problem.

MMPose's dataset classes fail deep inside a data-loader worker (an ``AssertionError`` on a
missing file, a bare ``JSONDecodeError`` on a truncated annotation file, an image read error
long after the job started). :func:`check_data_cfg` inspects every dataset of a config first
and raises :class:`DatasetConfigError` naming the file and what is wrong.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Any, Iterator, Mapping, Optional

__all__ = ['DatasetConfigError', 'check_dataset_cfg', 'check_data_cfg']

#: Config fields that hold a data loader.
LOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


class DatasetConfigError(ValueError):
    """A data root, annotation file or image that a config points at is missing or broken."""


def _join(root: Optional[str], path: Optional[str]) -> Optional[str]:
    """Join as mmengine's ``BaseDataset`` does: a relative path is under ``data_root``."""
    if path is None:
        return None
    if root and not osp.isabs(path):
        return osp.join(root, path)
    return path


def _iter_datasets(cfg: Mapping, where: str) -> Iterator[tuple]:
    """Yield ``(dataset_cfg, where)`` for a dataset config and its wrapped datasets."""
    if 'datasets' in cfg:  # ConcatDataset / CombinedDataset
        for i, sub in enumerate(cfg['datasets']):
            yield from _iter_datasets(sub, f'{where}.datasets[{i}]')
    elif 'dataset' in cfg:  # RepeatDataset / ClassBalancedDataset
        yield from _iter_datasets(cfg['dataset'], f'{where}.dataset')
    else:
        yield cfg, where


def _load_json(path: str, where: str) -> Any:
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise DatasetConfigError(
            f'annotation file {path} ({where}) is corrupt or truncated: {err}') from err
    except UnicodeDecodeError as err:
        raise DatasetConfigError(f'annotation file {path} ({where}) is not a text JSON file') \
            from err


def _image_names(annotations: Any, path: str, where: str) -> list:
    """Image file names of an MPII-style list or a COCO-style dict."""
    if isinstance(annotations, list):
        bad = [i for i, a in enumerate(annotations) if not isinstance(a, dict) or 'image' not in a]
        if bad:
            raise DatasetConfigError(
                f'annotation file {path} ({where}): entry {bad[0]} has no "image" field '
                f'(MMPose\'s MPII format is a list of dicts with image/center/scale/joints)')
        return [a['image'] for a in annotations]
    if isinstance(annotations, dict) and 'images' in annotations:
        if not isinstance(annotations.get('annotations', []), list):
            raise DatasetConfigError(f'annotation file {path} ({where}): "annotations" is not a '
                                     f'list')
        return [im['file_name'] for im in annotations['images']]
    return []  # another format: the dataset class checks it


def check_dataset_cfg(cfg: Mapping, where: str = 'dataset', check_images: bool = True) -> None:
    """Check one dataset config (and the datasets it wraps).

    Args:
        cfg: the ``dataset`` dict of a data loader config.
        where: the config path shown in error messages.
        check_images: also check that every image the annotation file lists exists.

    Raises:
        DatasetConfigError: naming the missing or broken file.
    """
    for ds, loc in _iter_datasets(cfg, where):
        if ds.get('auto_generate'):  # the dataset writes its embedded data on first use
            continue
        root = ds.get('data_root')
        if root and not osp.isdir(root):
            raise DatasetConfigError(
                f'data root {root!r} ({loc}.data_root) does not exist. For an embedded set run '
                f'`python tools/generate_data.py NAME --out {root}` (names: '
                f'`python tools/generate_data.py --list`; the pose set is mpii_synthetic); for '
                f'real data see README "Real data sets".')
        ann = _join(root, ds.get('ann_file') or None)
        if ann and not osp.isfile(ann):
            raise DatasetConfigError(f'annotation file {ann} ({loc}.ann_file) does not exist')
        for key in ('headbox_file', 'bbox_file'):
            extra = ds.get(key)  # MMPose reads these paths as given, not under data_root
            if extra and not osp.isfile(extra):
                raise DatasetConfigError(f'{key} {extra} ({loc}.{key}) does not exist')
        if not ann or not ann.endswith('.json'):
            continue
        names = _image_names(_load_json(ann, loc), ann, loc)
        if not check_images or not names:
            continue
        prefix = ds.get('data_prefix', {}) or {}
        img_dir = _join(root, prefix.get('img', prefix.get('img_path', ''))) or ''
        missing = [n for n in names if not osp.isfile(osp.join(img_dir, n))]
        if missing:
            raise DatasetConfigError(
                f'{len(missing)} of {len(names)} images listed in {ann} ({loc}) are missing, '
                f'e.g. {osp.join(img_dir, missing[0])}')


def check_data_cfg(cfg: Mapping, keys: tuple = LOADER_KEYS, check_images: bool = True) -> None:
    """Check the datasets of the given data loaders of a full config.

    Args:
        cfg: an mmengine config.
        keys: which loaders to check (those the command will build).
        check_images: also check that listed images exist.
    """
    for key in keys:
        loader = cfg.get(key)
        if loader and loader.get('dataset'):
            check_dataset_cfg(loader['dataset'], f'{key}.dataset', check_images)
