"""The lip-reading network builds from the config and trains (mmengine Runner)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(ROOT, 'configs', 'lipreading', 'lipnet_tiny_lrw-synthetic.py')


@pytest.mark.parametrize('backend', [dict(type='bigru', hidden=8, layers=1),
                                     dict(type='tcn', channels=8, dilations=(1, 2))])
def test_forward_shapes_and_short_clip_error(backend):
    model = MODELS.build(dict(type='LipReadingNet', num_classes=3, front_channels=4,
                              widths=(4, 8), blocks=(1, 1), backend=backend, min_frames=29))
    x = torch.randn(2, 1, 29, 24, 24)
    assert model(x).shape == (2, 3)
    with pytest.raises(ValueError, match='min_frames=29'):
        model(torch.randn(2, 1, 20, 24, 24))
    with pytest.raises(ValueError, match='backend type must be one of'):
        MODELS.build(dict(type='LipReadingNet', backend=dict(type='lstm')))


def test_config_builds_and_trains(tiny_lrw, tmp_path):
    torch.set_num_threads(1)
    cfg = Config.fromfile(CFG)
    cfg.work_dir = str(tmp_path)
    cfg.model.num_classes = 2
    for dl in ('train_dataloader', 'test_dataloader'):
        cfg[dl].dataset.data_root = tiny_lrw
        cfg[dl].dataset.words = ['ABOUT', 'MONEY']
        cfg[dl].batch_size = 2
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3)
    cfg.param_scheduler = None
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    before = copy.deepcopy(runner.model.state_dict())
    losses = []
    runner.model.register_forward_hook(
        lambda m, a, k, out: losses.append(out['loss'].item()) if isinstance(out, dict) else
        None, with_kwargs=True)
    runner.train()
    after = runner.model.state_dict()
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    changed = [k for k in before if before[k].is_floating_point() and
               not torch.equal(before[k], after[k])]
    assert any('frontend' in k for k in changed) and any('classifier' in k for k in changed)
    metrics = runner.test()
    assert 0 <= metrics['lip/top1'] <= 100
