"""plugins/datasets/lsp.py and configs/pose/binary_hg_lsp.py: LSP's joints.mat through the
config's dataset and pipeline (MPII sample images stand in for LSP's), torso PCK@0.2."""
import copy
import os
import os.path as osp

import numpy as np
import pytest

from mmengine.config import Config
from mmengine.registry import init_default_scope

from plugins.datasets.lsp import TorsoPCKAccuracy

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_lsp_mat_through_config_pipeline(tmp_path, sample_path):
    from scipy.io import savemat
    from mmpose.registry import DATASETS
    mpii = sample_path('mpii')
    imgs = sorted(f for f in os.listdir(mpii) if f.endswith('.jpg'))[:2]
    os.makedirs(tmp_path / 'images')
    for i, f in enumerate(imgs):
        os.symlink(osp.join(mpii, f), tmp_path / 'images' / f'im{i + 1:04d}.jpg')
    rng = np.random.default_rng(0)
    joints = np.zeros((3, 14, 2))
    joints[:2] = rng.uniform(50, 200, (2, 14, 2))
    joints[2, 5, 1] = 1  # LSP: 1 = occluded
    savemat(tmp_path / 'joints.mat', dict(joints=joints))
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pose/binary_hg_lsp.py'))
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = str(tmp_path)
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 2
    # LSP's 14-joint flip table, not the base config's MPII one (a flip would index joint 15)
    assert ds.metainfo['num_keypoints'] == 14 and len(ds.metainfo['flip_indices']) == 14
    raw = ds.get_data_info(1)
    np.testing.assert_allclose(raw['keypoints'][0], joints[:2, :, 1].T, rtol=1e-5)
    assert raw['keypoints_visible'][0][5] == 0 and raw['keypoints_visible'][0][4] == 1
    item = ds[0]
    assert item['inputs'].shape == (3, 128, 128)
    assert item['data_samples'].gt_fields.heatmaps.shape == (14, 32, 32)


def test_torso_pck_equals_hand_count():
    gt = np.zeros((1, 14, 2))
    gt[0, 8] = [0, 0]
    gt[0, 3] = [0, 100]  # torso = 100 -> threshold 20 px
    pred = gt.copy()
    pred[0, :5, 0] += 10   # within 20 px
    pred[0, 5:9, 0] += 30  # beyond (joints 5..8)
    m = TorsoPCKAccuracy(thr=0.2)
    m.process(None, [dict(pred_instances=dict(keypoints=pred),
                          gt_instances=dict(keypoints=gt, keypoints_visible=np.ones((1, 14)),
                                            bboxes=np.array([[0, 0, 10, 10]])))])
    assert m.compute_metrics(m.results)['PCK'] == pytest.approx(10 / 14)
