"""LRW dataset: documented clip shapes, mp4 + landmark side files, clear errors on bad input."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DATASETS, TRANSFORMS

from plugins.lipreading.fitting import LandmarkError
from plugins.lipreading.loading import ClipTooShortError, LoadLRWClip
from plugins.lipreading.morphable_model import MorphableModel, MorphableModelFormatError
from plugins.lipreading.transforms import MouthROICrop

PIPELINE = [
    dict(type='LoadLRWClip', num_frames=29),
    dict(type='MouthROICrop', out_size=32, crop_size=32),
    dict(type='RandomClipCrop', size=28),
    dict(type='ClipHorizontalFlip', prob=0.5),
    dict(type='TimeMask', max_len=3),
    dict(type='PackLipClip'),
]


def test_dataset_yields_documented_clips(tiny_lrw):
    ds = DATASETS.build(dict(type='LRWDataset', data_root=tiny_lrw, split='train',
                             pipeline=PIPELINE))
    assert len(ds) == 4 and ds.metainfo['classes'] == ('ABOUT', 'MONEY')
    item = ds[3]
    assert item['inputs'].shape == (1, 29, 28, 28) and item['inputs'].dtype == torch.uint8
    assert int(item['data_samples'].gt_label) == 1
    assert abs(item['data_samples'].yaw) <= 5.0 + 1e-6


def test_mouth_crop_is_centred_on_mouth_landmarks(tiny_lrw):
    res = LoadLRWClip()(dict(clip_path=osp.join(tiny_lrw, 'ABOUT', 'train',
                                                'ABOUT_00001.npz')))
    assert res['frames'].shape == (29, 64, 64) and res['landmarks'].shape == (29, 68, 2)
    out = MouthROICrop(out_size=32, crop_size=32)(dict(res))
    centre = res['landmarks'][:, 48:68].mean((0, 1))
    x, y = np.round(centre - 15.5).astype(int)
    # integer-aligned check against plain slicing (sub-pixel offsets interpolated)
    direct = res['frames'][:, y:y + 32, x:x + 32].astype(float)
    assert out['frames'].shape == (29, 32, 32)
    assert np.abs(out['frames'].astype(float) - direct).mean() < 25


def test_mp4_with_landmark_side_file(tmp_path, tiny_lrw):
    src = np.load(osp.join(tiny_lrw, 'MONEY', 'test', 'MONEY_00001.npz'))
    d = tmp_path / 'MONEY' / 'test'
    d.mkdir(parents=True)
    w = cv2.VideoWriter(str(d / 'MONEY_00001.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 25,
                        (64, 64), False)
    for f in src['frames']:
        w.write(f)
    w.release()
    np.save(d / 'MONEY_00001_landmarks.npy', src['landmarks'])
    ds = DATASETS.build(dict(type='LRWDataset', data_root=str(tmp_path), split='test',
                             words=['ABOUT', 'MONEY'], pipeline=PIPELINE))
    item = ds[0]
    assert item['inputs'].shape == (1, 29, 28, 28)
    assert int(item['data_samples'].gt_label) == 1


def test_short_clip_and_missing_landmarks(tmp_path):
    p = tmp_path / 'short.npz'
    np.savez(p, frames=np.zeros((10, 64, 64), np.uint8))
    with pytest.raises(ClipTooShortError, match='10 frames.*num_frames=29'):
        LoadLRWClip(29)(dict(clip_path=str(p)))
    res = LoadLRWClip(10)(dict(clip_path=str(p)))
    with pytest.raises(LandmarkError, match='no landmarks'):
        MouthROICrop()(res)
    out = MouthROICrop(out_size=16, fallback_box=(10, 10, 42, 42))(res)
    assert out['frames'].shape == (10, 16, 16)
    with pytest.raises(KeyError, match='no landmarks'):
        LoadLRWClip(10, require_landmarks=True)(dict(clip_path=str(p)))


def test_wrong_morphable_model_files(tmp_path):
    bad = tmp_path / 'model.npz'
    np.savez(bad, mean=np.zeros(30), triangles=np.zeros((1, 3), int))
    with pytest.raises(MorphableModelFormatError, match=r"missing \['shape_basis', 'landmarks'\]"):
        MorphableModel.load(str(bad))
    other = tmp_path / 'model.bin'
    other.write_bytes(b'\0' * 10)
    with pytest.raises(MorphableModelFormatError, match='unsupported morphable-model file'):
        MorphableModel.load(str(other))
    with pytest.raises(FileNotFoundError):
        MorphableModel.load(str(tmp_path / 'nope.npz'))


def test_model_file_roundtrip(tmp_path):
    from plugins.lipreading.morphable_model import generate_toy_model
    m = generate_toy_model()
    m.save(str(tmp_path / 'toy.npz'))
    m2 = MorphableModel.load(str(tmp_path / 'toy.npz'))
    assert np.allclose(m2.vertices(np.ones(6), np.ones(4)), m.vertices(np.ones(6), np.ones(4)))
    assert np.array_equal(m2.landmarks, m.landmarks)


def test_online_pose_augmentation_in_pipeline(tiny_lrw):
    pipeline = [dict(type='LoadLRWClip', num_frames=29),
                dict(type='ClipPoseAugment', prob=1.0, yaw_range=(40, 40), symmetric=False),
                dict(type='MouthROICrop', out_size=32, crop_size=32),
                dict(type='CenterClipCrop', size=28), dict(type='PackLipClip')]
    ds = DATASETS.build(dict(type='LRWDataset', data_root=tiny_lrw, split='test',
                             words=['MONEY'], pipeline=pipeline))
    item = ds[0]
    assert item['inputs'].shape == (1, 29, 28, 28)
    assert item['data_samples'].yaw == 40.0
    no_lmk = dict(frames=np.zeros((29, 64, 64), np.uint8), landmarks=None)
    with pytest.raises(LandmarkError, match='needs per-frame landmarks'):
        TRANSFORMS.build(dict(type='ClipPoseAugment', prob=1.0))(no_lmk)
