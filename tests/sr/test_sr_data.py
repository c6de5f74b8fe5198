"""Image folders, conversions, bad inputs and the embedded generator of plugins/sr."""
import json
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DATASETS

import plugins  # noqa: F401
from plugins.datasets import DATA_GENERATORS
from plugins.sr import degrade, fit_to_size, read_rgb, to_rgb
from plugins.sr.degradations import DegradationParams


def _write(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), image)


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    root = tmp_path_factory.mktemp('faces')
    summary = DATA_GENERATORS.get('faces_sr_synthetic')(
        str(root), seed=1, num_train_hr=6, num_train_lr=5, num_test=3)
    return root, summary


def test_generator_layout_and_determinism(faces, tmp_path):
    root, summary = faces
    assert summary['counts'] == dict(train_hr=6, train_lr=5, test_pairs=3)
    assert len(os.listdir(root / 'train' / 'hr')) == 6
    assert len(os.listdir(root / 'test' / 'lr')) == 3
    assert cv2.imread(str(root / 'train' / 'hr' / '00000.png')).shape == (64, 64, 3)
    assert cv2.imread(str(root / 'train' / 'lr' / '00000.png')).shape == (16, 16, 3)
    meta = json.loads((root / 'meta.json').read_text())
    assert len(meta['test_degradations']) == 3
    again = tmp_path / 'again'
    DATA_GENERATORS.get('faces_sr_synthetic')(str(again), seed=1, num_train_hr=6,
                                              num_train_lr=5, num_test=3)
    for part in ('train/hr/00003.png', 'test/lr/00002.png'):
        assert np.array_equal(cv2.imread(str(root / part)), cv2.imread(str(again / part)))


def test_unpaired_and_paired_datasets(faces):
    root, _ = faces
    ds = DATASETS.build(dict(type='UnpairedSRDataset', data_root=str(root)))
    assert len(ds) == 6
    item = ds[0]
    assert item['hr'].shape == (3, 64, 64) and item['lr'].shape == (3, 16, 16)
    assert 0 <= item['hr'].min() and item['hr'].max() <= 1 and item['paired'] is False
    paired = DATASETS.build(dict(type='PairedSRDataset', data_root=str(root)))
    assert len(paired) == 3 and paired[1]['paired'] is True
    assert paired[1]['hr_path'].endswith('00001.png') and paired[1]['lr_path'].endswith('00001.png')


def test_degradation_chain_matches_manual_steps():
    image = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    params = DegradationParams(blur_sigma=1.0, interpolation='area', noise_sigma=0.0,
                               jpeg_quality=None)
    out = degrade(image, params, np.random.default_rng(0))
    manual = cv2.resize(cv2.GaussianBlur(image, (7, 7), 1.0, borderType=cv2.BORDER_REFLECT101),
                        (16, 16), interpolation=cv2.INTER_AREA)
    assert np.array_equal(out, manual)


def test_grey_and_rgba_conversion(tmp_path):
    grey = np.full((20, 20), 77, np.uint8)
    _write(tmp_path / 'g.png', grey)
    assert np.array_equal(read_rgb(str(tmp_path / 'g.png')), np.full((20, 20, 3), 77, np.uint8))
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200  # red, half transparent over white -> (227.5, 127.5, 127.5)
    rgba[..., 3] = 128
    out = to_rgb(rgba)
    a = 128 / 255
    assert np.allclose(out[0, 0], [200 * a + 255 * (1 - a), 255 * (1 - a), 255 * (1 - a)], atol=0.6)
    _write(tmp_path / 'rgba.png', cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    assert np.array_equal(read_rgb(str(tmp_path / 'rgba.png')), out)
    sixteen = np.full((4, 4), 65535, np.uint16)
    assert to_rgb(sixteen).max() == 255


def test_fit_to_size_resizes_larger_and_rejects_smaller():
    big = np.zeros((100, 80, 3), np.uint8)
    assert fit_to_size(big, 64).shape == (64, 64, 3)
    with pytest.raises(ValueError, match='smaller than the required 64x64'):
        fit_to_size(np.zeros((50, 90, 3), np.uint8), 64)


def test_bad_folders(tmp_path):
    (tmp_path / 'hr').mkdir()
    (tmp_path / 'lr').mkdir()
    (tmp_path / 'hr' / 'notes.txt').write_text('not an image')
    with pytest.raises(ValueError, match='is empty'):
        DATASETS.build(dict(type='UnpairedSRDataset', data_root=str(tmp_path), hr_folder='hr',
                            lr_folder='lr'))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        DATASETS.build(dict(type='UnpairedSRDataset', data_root=str(tmp_path), hr_folder='nope',
                            lr_folder='lr'))
    _write(tmp_path / 'hr' / 'a.png', np.zeros((32, 32, 3), np.uint8))  # too small for 64
    _write(tmp_path / 'lr' / 'b.png', np.zeros((16, 16, 3), np.uint8))
    ds = DATASETS.build(dict(type='UnpairedSRDataset', data_root=str(tmp_path), hr_folder='hr',
                             lr_folder='lr'))
    with pytest.raises(ValueError, match=r'a\.png is 32x32 px, smaller than the required 64x64'):
        ds[0]
    with pytest.raises(ValueError, match='same file names'):
        DATASETS.build(dict(type='PairedSRDataset', data_root=str(tmp_path), hr_folder='hr',
                            lr_folder='lr'))
    (tmp_path / 'hr' / 'bad.png').write_bytes(b'garbage')
    with pytest.raises(ValueError, match='cannot read image'):
        read_rgb(str(tmp_path / 'hr' / 'bad.png'))


def test_auto_generate_fills_a_missing_root(tmp_path):
    root = tmp_path / 'auto'
    ds = DATASETS.build(dict(type='PairedSRDataset', data_root=str(root),
                             auto_generate='faces_sr_synthetic',
                             generate_options=dict(num_train_hr=2, num_train_lr=2, num_test=2)))
    assert len(ds) == 2 and (root / 'meta.json').is_file()
    assert isinstance(ds[0]['hr'], torch.Tensor)
