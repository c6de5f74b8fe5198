"""Pre-flight checks of a config's data: one clear error naming the file."""
import json

import pytest

from plugins.engine import DatasetConfigError, check_data_cfg, check_dataset_cfg


def _mpii_root(tmp_path, n=3):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'annotations').mkdir()
    anns = []
    for i in range(n):
        (tmp_path / 'images' / f'{i}.jpg').write_bytes(b'x')
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
