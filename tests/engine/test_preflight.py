"""Pre-flight checks of a config's data: one clear error naming the file."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from plugins.engine import DatasetConfigError, check_data_cfg, check_dataset_cfg
from plugins.engine import preflight


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Each test has its own decoded-image cache file."""
    monkeypatch.setenv('PREFLIGHT_CACHE', str(tmp_path_factory.mktemp('cache') / 'c.json'))


def _jpeg(path, seed=0, size=(96, 80)):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(path,
                                                                                quality=90)


def _mpii_root(tmp_path, n=3):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'annotations').mkdir()
    anns = []
    for i in range(n):
        _jpeg(tmp_path / 'images' / f'{i}.jpg', seed=i)
        anns.append(dict(image=f'{i}.jpg', center=[1, 1], scale=1.0, joints=[[0, 0]] * 16,
                         joints_vis=[1] * 16))
    (tmp_path / 'annotations' / 'train.json').write_text(json.dumps(anns))
    return dict(type='MpiiDataset', data_root=str(tmp_path), ann_file='annotations/train.json',
                data_prefix=dict(img='images/'))


def test_valid_config_passes(tmp_path):
    check_dataset_cfg(_mpii_root(tmp_path))


def test_missing_data_root(tmp_path):
    cfg = dict(data_root=str(tmp_path / 'nope'), ann_file='a.json')
    with pytest.raises(DatasetConfigError, match='nope.*does not exist.*generate_data'):
        check_data_cfg(dict(train_dataloader=dict(dataset=cfg)))


def test_missing_annotation_file(tmp_path):
    cfg = _mpii_root(tmp_path)
    cfg['ann_file'] = 'annotations/val.json'
    with pytest.raises(DatasetConfigError, match='val.json.*does not exist'):
        check_dataset_cfg(cfg)


def test_truncated_annotation_file(tmp_path):
    cfg = _mpii_root(tmp_path)
    path = tmp_path / 'annotations' / 'train.json'
    path.write_text(path.read_text()[:-40])
    with pytest.raises(DatasetConfigError, match='train.json.*corrupt or truncated'):
        check_dataset_cfg(cfg)


def test_missing_image(tmp_path):
    cfg = _mpii_root(tmp_path)
    (tmp_path / 'images' / '1.jpg').unlink()
    with pytest.raises(DatasetConfigError, match=r'1 of 3 images.*images/1.jpg'):
        check_dataset_cfg(cfg)


def test_wrong_structure(tmp_path):
    cfg = _mpii_root(tmp_path)
    (tmp_path / 'annotations' / 'train.json').write_text(json.dumps([{'img': 'a.jpg'}]))
    with pytest.raises(DatasetConfigError, match='no "image" field'):
        check_dataset_cfg(cfg)


def test_wrapped_datasets_are_checked(tmp_path):
    good = _mpii_root(tmp_path)
    bad = dict(good, ann_file='annotations/missing.json')
    wrapped = dict(type='ConcatDataset', datasets=[good, dict(type='RepeatDataset', dataset=bad)])
    with pytest.raises(DatasetConfigError, match=r'datasets\[1\]\.dataset'):
        check_dataset_cfg(wrapped)


def test_coco_style_images_checked(tmp_path, shared_data):
    cfg = dict(data_root=f'{shared_data}/300w', ann_file='test_300w.json',
               data_prefix=dict(img=''))
    check_dataset_cfg(cfg)
    cfg['data_prefix'] = dict(img='elsewhere/')
    with pytest.raises(DatasetConfigError, match='images listed'):
        check_dataset_cfg(cfg)


def test_truncated_jpeg_is_named(tmp_path):
    cfg = _mpii_root(tmp_path)
    path = tmp_path / 'images' / '2.jpg'
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 2 // 3])  # cut inside the entropy-coded data
    with pytest.raises(DatasetConfigError, match=r'images/2.jpg.*cannot be decoded.*truncated'):
        check_dataset_cfg(cfg)


def test_second_run_uses_the_cache_and_a_changed_file_is_decoded_again(tmp_path, monkeypatch):
    cfg = _mpii_root(tmp_path)
    calls = []
    real = preflight.decode_image
    monkeypatch.setattr(preflight, 'decode_image', lambda p: (calls.append(p), real(p)))
    check_dataset_cfg(cfg)
    assert len(calls) == 3
    check_dataset_cfg(cfg)
    assert len(calls) == 3  # all three were in the cache
    path = tmp_path / 'images' / '1.jpg'
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # same path, new size and mtime
    with pytest.raises(DatasetConfigError, match='1.jpg.*cannot be decoded'):
        check_dataset_cfg(cfg)
    assert calls[-1].endswith('1.jpg') and len(calls) == 4


def test_unreadable_cache_is_ignored(tmp_path):
    cfg = _mpii_root(tmp_path)
    cache = os.environ['PREFLIGHT_CACHE']
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    open(cache, 'w').write('{not json')
    check_dataset_cfg(cfg)
    assert len(json.load(open(cache))) == 3


def test_train_py_names_a_truncated_image_before_training(tmp_path, repo_root, mpii_tiny):
    """tools/train.py stops with one error naming the file, before any data-loader worker."""
    import shutil

    from tools import train as train_tool
    root = tmp_path / 'mpii'
    shutil.copytree(mpii_tiny, root)
    first = json.loads((root / 'annotations' / 'mpii_train.json').read_text())[5]['image']
    path = root / 'images' / first
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(DatasetConfigError, match=rf'{first}.*cannot be decoded.*truncated'):
        train_tool.main([os.path.join(repo_root, 'configs/pose/hg_mpii.py'), '--work-dir',
                         str(tmp_path / 'work'), '--cfg-options', f'data_root={root}/'])
