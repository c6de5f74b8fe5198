"""configs/face/*: the real 300W / AFLW / WFLW sample images run through each config's dataset
class and pipelines, and one training step of the binary hourglass on them."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from plugins.datasets.sample_data import sample_data_root

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLES = sample_data_root()
CASES = [('binary_hg_300w.py', '300w', 'test_300w.json', 68),
         ('binary_hg_aflw.py', 'aflw', 'test_aflw.json', 19),
         ('binary_hg_wflw.py', 'wflw', 'test_wflw.json', 98)]


def dataset(cfg, split, sub, ann):
    from mmpose.registry import DATASETS
    ds_cfg = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
    ds_cfg.update(data_root=osp.join(SAMPLES, sub), ann_file=ann, data_prefix=dict(img=''))
    return DATASETS.build(ds_cfg)


@pytest.mark.parametrize('config,sub,ann,k', CASES)
def test_face_config_datasets_and_pipelines(config, sub, ann, k):
    if not osp.exists(osp.join(SAMPLES, sub, ann)):
        pytest.skip('face samples missing')
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/face', config))
    assert cfg.model.backbone.out_channels == k
    train = dataset(cfg, 'train', sub, ann)
    item = train[0]
    assert item['inputs'].shape == (3, 128, 128)
    assert item['data_samples'].gt_fields.heatmaps.shape == (k, 32, 32)
    val = dataset(cfg, 'val', sub, ann)
    assert val[0]['inputs'].shape == (3, 128, 128)


def test_face_model_trains_and_predicts_on_real_300w():
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/face/binary_hg_300w.py'))
    cfg.model.backbone.update(channels=16, stem_channels=(8, 16), depth=2)
    model = MODELS.build(cfg.model)
    train = dataset(cfg, 'train', '300w', 'test_300w.json')
    data = model.data_preprocessor(pseudo_collate([train[0], train[1]]), training=True)
    loss = model(**data, mode='loss')['loss_kpt']
    loss.backward()
    model.eval()
    val = dataset(cfg, 'val', '300w', 'test_300w.json')
    data = model.data_preprocessor(pseudo_collate([val[0]]), training=False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    assert out[0].pred_instances.keypoints.shape == (1, 68, 2)
