"""RealStemResNet (plugins/pose/resnet.py) and configs/pose/resnet_mpii_embedded.py: the real
model is MMPose's ResNet number for number; the documented binary override
(``model.backbone.conv_cfg.type=BinaryConv2d``) binarises the residual stages, keeps the RGB
stem real, and trains through tools/train.py."""
import json
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmpose.models.backbones import ResNet
from mmpose.registry import MODELS

from plugins.binary import BinaryConv2d
from plugins.engine.config_rebind import load_config, merge_cfg_options
from tools import train as train_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/pose/resnet_mpii_embedded.py')


def _convs(module):
    return [(n, m) for n, m in module.named_modules() if isinstance(m, nn.Conv2d)]


def test_real_config_backbone_is_mmpose_resnet_number_for_number():
    cfg = load_config(CONFIG).model.backbone.to_dict()
    torch.manual_seed(0)
    ours = MODELS.build(cfg)
    stock_cfg = {k: v for k, v in cfg.items() if k not in ('type', 'stem_conv_cfg')}
    stock_cfg['conv_cfg'] = None  # the config before issue 16 item 4
    torch.manual_seed(0)
    stock = ResNet(**stock_cfg)
    assert isinstance(ours, ResNet)
    assert [(n, type(m)) for n, m in ours.named_modules()][1:] == \
        [(n, type(m)) for n, m in stock.named_modules()][1:]
    ours_sd, stock_sd = ours.state_dict(), stock.state_dict()
    assert list(ours_sd) == list(stock_sd)
    for key in stock_sd:
        torch.testing.assert_close(ours_sd[key], stock_sd[key], rtol=0, atol=0)
    ours.eval()
    stock.eval()  # (MMPose's ResNet.train() returns None)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(ours(x)[0], stock(x)[0], rtol=0, atol=0)


def test_binary_override_keeps_the_stem_real():
    cfg = load_config(CONFIG)
    merge_cfg_options(cfg, {'model.backbone.conv_cfg.type': 'BinaryConv2d'})
    backbone = MODELS.build(cfg.model.backbone.to_dict())
    convs = _convs(backbone)
    assert convs[0][0] == 'conv1' and type(convs[0][1]) is nn.Conv2d
    rest = [m for _, m in convs[1:]]
    assert all(isinstance(m, BinaryConv2d) for m in rest)
    assert sum(m.kernel_size == (3, 3) for m in rest) == 16  # ResNet-18: 8 blocks x 2
    # the stock backbone binarises the stem too
    stock = ResNet(**{k: v for k, v in cfg.model.backbone.to_dict().items()
                      if k not in ('type', 'stem_conv_cfg')})
    assert isinstance(stock.conv1, BinaryConv2d)


@pytest.mark.slow
def test_documented_binary_override_trains_through_tools_train(tmp_path, mpii_tiny):
    work = str(tmp_path / 'work')
    runner = train_tool.main([
        CONFIG, '--work-dir', work, '--threads', '1', '--no-validate', '--cfg-options',
        'model.backbone.conv_cfg.type=BinaryConv2d', f'data_root={mpii_tiny}/', 'max_iters=3',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1'])
    backbone = runner.model.backbone
    assert type(backbone.conv1) is nn.Conv2d
    assert isinstance(backbone.layer1[0].conv1, BinaryConv2d)
    logs = [json.loads(line) for line in open(
        osp.join(work, runner.timestamp, 'vis_data', 'scalars.json'))]
    losses = [r['loss'] for r in logs if 'loss' in r]
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
