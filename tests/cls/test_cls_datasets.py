"""Digits domains, ImageNet-format folders and the Decathlon layout."""
import json

import pytest
import torch
from mmengine.registry import DATASETS

import plugins  # noqa: F401
from plugins.datasets.digits import DIGITS_DOMAINS, load_digits_domain, write_digits_folder


def test_digits_domains_are_transforms_of_the_same_images():
    x, y = load_digits_domain('digits', 'val', size=8)
    assert x.shape == (359, 3, 8, 8) and x.dtype == torch.uint8 and set(y.tolist()) == set(range(10))
    inv, y2 = load_digits_domain('digits_inverted', 'val', size=8)
    assert torch.equal(inv, 255 - x) and torch.equal(y, y2)
    rot, _ = load_digits_domain('digits_rot90', 'val', size=8)
    assert torch.equal(rot, torch.rot90(x, 1, (2, 3)))
    _, yp = load_digits_domain('digits_parity', 'val', size=8)
    assert torch.equal(yp, y % 2)
    tr, _ = load_digits_domain('digits', 'train', size=8)
    assert len(tr) + len(x) == 1797


def test_digits_dataset_and_class_count_check():
    ds = DATASETS.build(dict(type='DigitsDataset', domain='digits_color', split='val', size=16))
    s = ds[0]
    assert s['inputs'].shape == (3, 16, 16) and 0 <= s['data_samples']['gt_label'] < 10
    with pytest.raises(ValueError, match='num_classes=10 does not match .* 2 classes'):
        DATASETS.build(dict(type='DigitsDataset', domain='digits_parity', num_classes=10))
    with pytest.raises(KeyError, match='allowed'):
        DATASETS.build(dict(type='DigitsDataset', domain='mnist'))
    assert len(DIGITS_DOMAINS) >= 6


def test_image_folder_roundtrip(tmp_path):
    info = write_digits_folder(str(tmp_path / 'digits'), size=8)
    assert info['counts'] == {'train': 1438, 'val': 359}
    ds = DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path / 'digits'),
                             split='val', size=8, num_classes=10))
    x, y = load_digits_domain('digits', 'val', size=8)
    # folder order is class by class; compare as sets of (label, image) pairs
    got = sorted((d['data_samples']['gt_label'], d['inputs'].flatten().tolist())
                 for d in (ds[i] for i in range(len(ds))))
    ref = sorted((int(b), a.flatten().tolist()) for a, b in zip(x, y))
    assert got == ref
    with pytest.raises(ValueError, match='num_classes=3 does not match the data, which has 10'):
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path / 'digits'),
                            split='val', num_classes=3))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        DATASETS.build(dict(type='ImageFolderDataset', data_root=str(tmp_path / 'nope')))


def test_decathlon_layouts(tmp_path):
    from PIL import Image
    root = tmp_path / 'decathlon'
    for c in ('0001', '0002'):
        d = root / 'svhn' / 'train' / c
        d.mkdir(parents=True)
        Image.new('RGB', (90, 72), (int(c[-1]) * 50, 0, 0)).save(d / 'a.png')
    ds = DATASETS.build(dict(type='DecathlonDataset', domain='svhn', data_root=str(root),
                             size=64))
    assert len(ds) == 2 and ds[1]['inputs'].shape == (3, 64, 64)
    assert ds.metainfo['classes'] == ('0001', '0002') and ds.metainfo['domain'] == 'svhn'
    ann = dict(images=[dict(id=1, file_name='svhn/train/0002/a.png')],
               annotations=[dict(id=1, image_id=1, category_id=7002)],
               categories=[dict(id=7001, name='x'), dict(id=7002, name='y')])
    (root / 'ann.json').write_text(json.dumps(ann))
    ds = DATASETS.build(dict(type='DecathlonDataset', domain='svhn', data_root=str(root),
                             ann_file=str(root / 'ann.json'), size=32, split='val'))
    assert ds[0]['data_samples']['gt_label'] == 1 and ds[0]['inputs'][0, 0, 0] == 100
    with pytest.raises(KeyError, match='allowed'):
        DATASETS.build(dict(type='DecathlonDataset', domain='mnist', data_root=str(root)))
