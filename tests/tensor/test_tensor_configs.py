"""The factorised convs as a config choice in stock MMPose models and in our configs."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import plugins  # noqa: F401
from plugins.tensor import CPConv, TNet, TuckerConv

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('conv_cfg,cls', [(dict(type='CPConv', rank=0.25), CPConv),
                                          (dict(type='TuckerConv', rank=0.5), TuckerConv)])
def test_stock_mmpose_resnet_takes_factorised_convs(conv_cfg, cls):
    init_default_scope('mmpose')
    net = MODELS.build(dict(type='ResNet', depth=18, base_channels=8, out_indices=(3, ),
                            conv_cfg=conv_cfg))
    net.init_weights()
    assert isinstance(net.layer1[0].conv1, cls)
    out = net(torch.randn(2, 3, 32, 32))
    assert out[-1].shape == (2, 64, 1, 1) and torch.isfinite(out[-1]).all()


@pytest.mark.parametrize('name,ratio', [('tnet_mpii', 0.3), ('tnet_c010_mpii', 0.1),
                                        ('tnet_c005_mpii', 0.05), ('tnet_dense_mpii', None)])
def test_tnet_configs_build_with_their_ratio(name, ratio):
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pose', f'{name}.py'))
    model = MODELS.build(cfg.model)
    assert isinstance(model.backbone, TNet)
    assert (model.backbone.ranks is None) == (ratio is None)
    dense = 2 * 3 * 3 * 2 * 64 * 64 * 9
    if ratio is None:
        assert model.backbone.tensor_params() == dense
    else:
        assert ratio * 0.8 * dense <= model.backbone.tensor_params() <= ratio * dense


@pytest.mark.parametrize('options', [None, {'max_iters': 300}])
def test_tnet_configs_share_everything_but_the_backbone_with_hg_mpii(options):
    """One override (here ``max_iters``) reaches T-Net and the hourglass alike."""
    from plugins.engine.config_rebind import load_config
    tnet = load_config(osp.join(ROOT, 'configs/pose/tnet_c010_mpii.py'), options)
    hg = load_config(osp.join(ROOT, 'configs/pose/hg_mpii.py'), options)
    for key in ('train_cfg', 'param_scheduler', 'optim_wrapper', 'train_dataloader',
                'val_dataloader', 'codec'):
        assert tnet[key] == hg[key], key
    assert tnet.model.head == hg.model.head
    assert tnet.model.backbone.type == 'TNet' and 'block' not in tnet.model.backbone
    if options:
        assert tnet.train_cfg.max_iters == 300
        assert tnet.param_scheduler[1].milestones == [240]


def test_mmcv_conv_module_wraps_a_factorised_conv():
    from mmcv.cnn import ConvModule
    module = ConvModule(4, 6, 3, padding=1, conv_cfg=dict(type='CPConv', rank=3),
                        norm_cfg=dict(type='BN'))
    module.init_weights()
    assert isinstance(module.conv, CPConv) and module.conv.rank == 3
    assert module(torch.randn(2, 4, 5, 5)).shape == (2, 6, 5, 5)
