"""The binary training-recipe configs build their models and hooks, and run a step."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import HOOKS, DefaultScope

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _cfg(name):
    return Config.fromfile(osp.join(ROOT, 'configs/pose', name))


@pytest.mark.parametrize('name,hook', [
    ('binary_hg_mpii_progressive.py', 'ProgressiveBinarizationHook'),
    ('binary_hg_mpii_stacking.py', 'StackFreezeHook'),
])
def test_recipe_hooks_build(name, hook):
    cfg = _cfg(name)
    built = [HOOKS.build(h) for h in cfg.custom_hooks]
    assert [type(h).__name__ for h in built] == ['SyncBuffersHook', hook]


def test_distillation_config_trains_a_step():
    from mmpose.registry import MODELS
    cfg = _cfg('binary_hg_mpii_distill.py')
    cfg.model.teacher_checkpoint = None  # the config names a trained teacher's checkpoint
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(cfg.model)
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    samples = [PoseDataSample(gt_fields=PixelData(heatmaps=torch.rand(16, 32, 32)),
                              gt_instance_labels=InstanceData(keypoint_weights=torch.ones(1, 16)))
               for _ in range(2)]
    losses = model.loss(torch.rand(2, 3, 128, 128), samples)
    assert {'loss_kpt', 'loss_kd', 'loss_feat'} <= set(losses)
    assert all(torch.isfinite(v).all() for k, v in losses.items() if k.startswith('loss'))
    assert not any(p.requires_grad for p in model.teacher.parameters())
