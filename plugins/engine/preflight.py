"""Check a config's data sources before training, with one clear error per problem.

MMPose's dataset classes fail deep inside a data-loader worker (an ``AssertionError`` on a
missing file, a bare ``JSONDecodeError`` on a truncated annotation file, an image read error
long after the job started). :func:`check_data_cfg` inspects every dataset of a config first
and raises :class:`DatasetConfigError` naming the file and what is wrong.

Images are decoded once each (:func:`check_images_decode`, with a progress bar): a truncated
or corrupt file is named in one error instead of failing inside a data-loader worker. Files
that decoded are remembered in a cache keyed by path, size and modification time
(``$PREFLIGHT_CACHE``, default ``~/.cache/efficient-landmarks/preflight_images.json``), so a
second run checks them instantly and a changed file is decoded again.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Iterable, Iterator, Mapping, Optional

from .progress import track

__all__ = ['DatasetConfigError', 'check_dataset_cfg', 'check_data_cfg', 'check_images_decode',
           'decode_image', 'image_cache_path']

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


def image_cache_path() -> str:
    """Where decoded-image records are kept (``$PREFLIGHT_CACHE`` or the user cache dir)."""
    return os.environ.get('PREFLIGHT_CACHE') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'), 'efficient-landmarks',
        'preflight_images.json')


def decode_image(path: str) -> None:
    """Decode an image fully (JPEG at 1/8 scale: every coded byte is still read).

    Raises:
        OSError/ValueError/SyntaxError: from Pillow, for a truncated or corrupt file.
    """
    from PIL import Image
    with Image.open(path) as im:
        if im.format == 'JPEG':
            im.draft('RGB', (max(1, im.width // 8), max(1, im.height // 8)))
        im.load()


def _stamp(path: str) -> list:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


def _load_cache(path: str) -> dict:
    try:
        with open(path) as f:
            cache = json.load(f)
        return cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(path: str, cache: dict) -> None:
    try:
        os.makedirs(osp.dirname(path), exist_ok=True)
        tmp = f'{path}.{os.getpid()}.tmp'
        with open(tmp, 'w') as f:
            json.dump(cache, f)
        os.replace(tmp, path)
    except OSError:  # a read-only home: the check still ran, only the next one is slower
        pass


def check_images_decode(paths: Iterable[str], where: str = 'dataset',
                        cache_file: Optional[str] = None) -> int:
    """Decode every image once; remember the good ones by path, size and mtime.

    Args:
        paths: image files (they must exist).
        where: the config path shown in the error message.
        cache_file: the record file (default :func:`image_cache_path`).

    Returns:
        how many images were decoded now (0 when all were in the cache).

    Raises:
        DatasetConfigError: naming the first image that cannot be decoded.
    """
    cache_file = cache_file or image_cache_path()
    cache = _load_cache(cache_file)
    todo = []
    for p in paths:
        key = osp.abspath(p)
        if cache.get(key) != _stamp(p):
            todo.append(key)
    decoded = 0
    if not todo:
        return 0
    try:
        for path in track(todo, desc=f'pre-flight: decoding images ({where})', unit='image'):
            try:
                decode_image(path)
            except Exception as err:  # noqa: BLE001 - Pillow raises OSError, SyntaxError ...
                raise DatasetConfigError(
                    f'image {path} ({where}) cannot be decoded: {err}. The file is truncated '
                    f'or corrupt; copy it again or remove it from the annotation file.') \
                    from err
            cache[path] = _stamp(path)
            decoded += 1
    finally:
        if decoded:
            _save_cache(cache_file, cache)
    return decoded


def check_dataset_cfg(cfg: Mapping, where: str = 'dataset', check_images: bool = True) -> None:
    """Check one dataset config (and the datasets it wraps).

    Args:
        cfg: the ``dataset`` dict of a data loader config.
        where: the config path shown in error messages.
        check_images: also check that every image the annotation file lists exists and
            decodes (:func:`check_images_decode`).

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
        paths = list(dict.fromkeys(osp.join(img_dir, n) for n in names))
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            raise DatasetConfigError(
                f'{len(missing)} of {len(paths)} images listed in {ann} ({loc}) are missing, '
                f'e.g. {missing[0]}')
        check_images_decode(paths, loc)


def check_data_cfg(cfg: Mapping, keys: tuple = LOADER_KEYS, check_images: bool = True) -> None:
    """Check the datasets of the given data loaders of a full config.

    Args:
        cfg: an mmengine config.
        keys: which loaders to check (those the command will build).
        check_images: also check that listed images exist and decode.
    """
    for key in keys:
        loader = cfg.get(key)
        if loader and loader.get('dataset'):
            check_dataset_cfg(loader['dataset'], f'{key}.dataset', check_images)
