"""plugins/datasets/face_parts.py, plugins/pose/{segmentation,iou_metric}.py and
configs/face/binary_hg_face_parts.py."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from plugins.datasets import DATA_GENERATORS
from plugins.datasets.face_parts import FACE_PART_CLASSES, rasterise_parts
from plugins.pose import PartIoU

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_iou_metric_equals_hand_computation():
    gt = np.array([[0, 0, 1, 1], [0, 2, 2, 1]])
    pred = np.array([[0, 1, 1, 1], [0, 2, 0, 1]])
    # class 0: TP 2 (0,0),(1,0); FP 1 (1,2); FN 1 (0,1) -> 2/4
    # class 1: TP 3; FP 1 (0,1); FN 0 -> 3/4 ; class 2: TP 1; FP 0; FN 1 -> 1/2
    m = PartIoU(num_classes=3, class_names=['bg', 'a', 'b'])
    m.process(None, [dict(pred_sem_seg=PixelData(data=torch.tensor(pred)[None]),
                          gt_sem_seg=PixelData(data=torch.tensor(gt)[None]))])
    out = m.compute_metrics(m.results)
    assert out['IoU_bg'] == pytest.approx(50.0)
    assert out['IoU_a'] == pytest.approx(75.0)
    assert out['IoU_b'] == pytest.approx(50.0)
    assert out['mIoU'] == pytest.approx((75.0 + 50.0) / 2)  # background excluded


def test_rasterise_parts_of_a_68_point_face():
    from plugins.datasets.face_parts import _template_68
    mask = rasterise_parts(_template_68() * 100 + 14, 128, 128)
    assert set(np.unique(mask)) == set(range(len(FACE_PART_CLASSES)))
    with pytest.raises(ValueError, match='68.*98.*got 5'):
        rasterise_parts(np.zeros((5, 2)), 8, 8)


@pytest.fixture(scope='module')
def parts_root(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('face_parts'))
    summary = DATA_GENERATORS.get('face_parts_synthetic')(out, num_train=4, num_val=2,
                                                          img_size=64)
    assert summary['train'] == 4 and summary['val'] == 2
    return out


def test_generator_is_deterministic(parts_root, tmp_path):
    DATA_GENERATORS.get('face_parts_synthetic')(str(tmp_path), num_train=4, num_val=2,
                                                img_size=64, real_root=None)
    for f in ('images/train/00003.png', 'masks/val/00001.png'):
        a = open(osp.join(parts_root, f), 'rb').read()
        assert a == open(osp.join(tmp_path, f), 'rb').read()


def test_config_dataset_model_and_metric(parts_root):
    from mmpose.registry import DATASETS, METRICS, MODELS
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/face/binary_hg_face_parts.py'))
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = parts_root
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 4
    item = ds[0]
    assert item['inputs'].shape == (3, 128, 128)
    assert item['data_samples'].gt_sem_seg.data.shape == (1, 128, 128)
    cfg.model.backbone.update(channels=16, stem_channels=(8, 16), depth=2)
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), training=True)
    loss = model(**data, mode='loss')['loss_seg']
    assert loss > 0
    loss.backward()
    model.eval()
    val_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    val_cfg.data_root = parts_root
    val = DATASETS.build(val_cfg)
    data = model.data_preprocessor(pseudo_collate([val[0], val[1]]), training=False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 128, 128)
    metric = METRICS.build(cfg.val_evaluator)
    metric.process(None, out)
    assert 0 <= metric.compute_metrics(metric.results)['mIoU'] <= 100


def test_real_samples_get_rasterised_masks(sample_path, tmp_path):
    """The 300W/WFLW sample faces, cropped with masks rasterised from their landmarks, load
    through the config's dataset like the rendered ones."""
    from mmpose.registry import DATASETS
    sample_path('300w', 'test_300w.json'), sample_path('wflw', 'test_wflw.json')
    summary = DATA_GENERATORS.get('face_parts_synthetic')(str(tmp_path), num_train=1, num_val=1,
                                                          img_size=64, real_root=sample_path())
    assert summary['real'] >= 2
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/face/binary_hg_face_parts.py'))
    val_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    val_cfg.update(data_root=str(tmp_path), data_prefix=dict(img='images/real', seg='masks/real'))
    ds = DATASETS.build(val_cfg)
    assert len(ds) == summary['real']
    seg = ds[0]['data_samples'].gt_sem_seg.data
    # a face: several part classes present, background around it
    assert len(torch.unique(seg)) >= 4 and (seg == 0).any()


def test_missing_folder_is_a_clear_error(tmp_path):
    from plugins.datasets.face_parts import FacePartsDataset
    with pytest.raises(FileNotFoundError, match='image folder.*does not exist'):
        FacePartsDataset(data_root=str(tmp_path))
