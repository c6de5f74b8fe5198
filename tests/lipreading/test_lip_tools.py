"""Offline pose augmentation skips and lists bad clips; LRS2 word cutting; configs build."""
import glob
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import MODELS

from plugins.lipreading.lrs2 import cut_lrs2_words, parse_lrs2_alignment
from plugins.lipreading.offline_augment import augment_folder

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'lipreading', '*.py')))


def test_offline_augmentation_skips_and_lists_bad_clips(tiny_lrw, tmp_path):
    src = tmp_path / 'src'
    d = src / 'ABOUT' / 'train'
    d.mkdir(parents=True)
    shutil.copy(osp.join(tiny_lrw, 'ABOUT', 'train', 'ABOUT_00001.npz'), d / 'good.npz')
    good = np.load(d / 'good.npz')
    np.savez(d / 'short.npz', frames=good['frames'][:5], landmarks=good['landmarks'][:5])
    np.savez(d / 'nolmk.npz', frames=good['frames'])
    (d / 'broken.mp4').write_bytes(b'not a video')
    written, bad = augment_folder(str(src), str(tmp_path / 'out'), copies=1, yaw_range=(30, 30),
                                  log=lambda *a: None)
    assert written == 1
    listed = (tmp_path / 'out' / 'bad_clips.txt').read_text()
    assert sorted(osp.basename(p) for p, _ in bad) == ['broken.mp4', 'nolmk.npz', 'short.npz']
    assert 'ClipTooShortError' in listed and 'no landmarks' in listed
    out = np.load(tmp_path / 'out' / 'ABOUT' / 'train' / 'good_pose0.npz')
    assert out['frames'].shape == good['frames'].shape and abs(abs(float(out['yaw'])) - 30) < 1e-4


def test_lrs2_cut(tmp_path):
    vid = tmp_path / 'lrs2' / '123'
    vid.mkdir(parents=True)
    w = cv2.VideoWriter(str(vid / '00001.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 25, (32, 32),
                        False)
    for i in range(60):
        w.write(np.full((32, 32), 4 * i, np.uint8))
    w.release()
    (vid / '00001.txt').write_text(
        'Text:  ABOUT THE MONEY\nConf:  5\n\nWORD START END ASDSCORE\n'
        'ABOUT 0.10 0.40 1.0\nTHE 0.40 0.50 1.0\nMONEY 1.00 1.30 1.0\n')
    assert parse_lrs2_alignment(str(vid / '00001.txt'))[2] == ('MONEY', 1.0, 1.3)
    counts, skipped = cut_lrs2_words(str(tmp_path / 'lrs2'), str(tmp_path / 'out'),
                                     ['MONEY', 'ABOUT', 'WORLD'], frame_size=64,
                                     log=lambda *a: None)
    assert counts == {'MONEY': 1}                  # ABOUT's window starts before frame 0
    assert len(skipped) == 1 and 'ABOUT' in skipped[0][1]
    clip = np.load(glob.glob(str(tmp_path / 'out' / 'MONEY' / 'test' / '*.npz'))[0])['frames']
    assert clip.shape == (29, 64, 64)
    # centred on frame round(1.15 * 25) = 29 (pixel value ~ 4 * frame index; mp4 is lossy)
    assert abs(float(clip[14].mean()) - 4 * 29) < 6


def test_every_lipreading_config_is_collected():
    # five configs: a cwd-relative glob collected none outside the repository root
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize('cfg', CONFIGS, ids=osp.basename)
def test_configs_build_models(cfg):
    c = Config.fromfile(cfg)
    model = MODELS.build(c.model)
    assert model.classifier.out_features == c.model.num_classes
