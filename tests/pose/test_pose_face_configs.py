"""configs/face/*: the real 300W / AFLW / WFLW sample images run through each config's dataset
class and pipelines, and one training step of the binary hourglass on them."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CASES = [('binary_hg_300w.py', '300w', 'test_300w.json', 68),
         ('binary_hg_aflw.py', 'aflw', 'test_aflw.json', 19),
         ('binary_hg_wflw.py', 'wflw', 'test_wflw.json', 98)]


def dataset(cfg, split, root, ann):
    from mmpose.registry import DATASETS
    ds_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
    ds_cfg.update(data_root=root, ann_file=ann, data_prefix=dict(img=''))
    return DATASETS.build(ds_cfg)


@pytest.mark.parametrize('config,sub,ann,k', CASES)
def test_face_config_datasets_and_pipelines(config, sub, ann, k, sample_path):
    sample_path(sub, ann)
    root = sample_path(sub)
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/face', config))
    assert cfg.model.backbone.out_channels == k
    train = dataset(cfg, 'train', root, ann)
    item = train[0]
    assert item['inputs'].shape == (3, 128, 128)
    assert item['data_samples'].gt_fields.heatmaps.shape == (k, 32, 32)
    val = dataset(cfg, 'val', root, ann)
    assert val[0]['inputs'].shape == (3, 128, 128)


def test_face_model_trains_and_predicts_on_real_300w(sample_path):
    from mmpose.registry import MODELS
    sample_path('300w', 'test_300w.json')
    root = sample_path('300w')
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/face/binary_hg_300w.py'))
    cfg.model.backbone.update(channels=16, stem_channels=(8, 16), depth=2)
    model = MODELS.build(cfg.model)
    train = dataset(cfg, 'train', root, 'test_300w.json')
    data = model.data_preprocessor(pseudo_collate([train[0], train[1]]), training=True)
    loss = model(**data, mode='loss')['loss_kpt']
    loss.backward()
    model.eval()
    val = dataset(cfg, 'val', root, 'test_300w.json')
    data = model.data_preprocessor(pseudo_collate([val[0]]), training=False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    assert out[0].pred_instances.keypoints.shape == (1, 68, 2)
