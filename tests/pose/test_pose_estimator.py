"""MultiStackHeatmapHead + StackedHourglass inside MMPose's TopdownPoseEstimator, on the real
MPII sample images through the MPII dataset class and the embedded config's pipelines; and
mixing both ways with stock MMPose parts."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from plugins.pose import MultiStackHeatmapHead

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_BACKBONE = dict(type='StackedHourglass', num_stacks=2, depth=2, channels=16,
                     out_channels=16, stem_channels=(8, 16), block=dict(type='HPMBlock'))


@pytest.fixture(scope='module')
def cfg():
    init_default_scope('mmpose')
    c = Config.fromfile(osp.join(ROOT, 'configs/pose/binary_hg_mpii.py'))
    c.model.backbone = Config(TINY_BACKBONE)
    return c


@pytest.fixture
def mpii(sample_path) -> str:
    """MMPose's MPII test sample (5 images); skips/fails as tests/conftest.py says."""
    sample_path('mpii', 'test_mpii.json')
    return sample_path('mpii')


def mpii_batch(cfg, train: bool, mpii: str):
    from mmpose.registry import DATASETS
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.update(data_root=mpii, ann_file='test_mpii.json', data_prefix=dict(img=''))
    if not train:
        ds_cfg.pipeline = cfg.val_dataloader.dataset.pipeline
    ds = DATASETS.build(ds_cfg)
    return pseudo_collate([ds[i] for i in range(2)])


def build(cfg, **model_over):
    from mmpose.registry import MODELS
    m = copy.deepcopy(cfg.model).to_dict()
    for key, value in model_over.items():  # replace, not merge
        m[key] = value
    return MODELS.build(m)


def test_loss_and_flip_predict_on_real_mpii_images(cfg, mpii):
    model = build(cfg)
    data = model.data_preprocessor(mpii_batch(cfg, True, mpii), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) >= {'loss_kpt', 'acc_pose'} and losses['loss_kpt'] > 0
    losses['loss_kpt'].backward()
    model.eval()
    data = model.data_preprocessor(mpii_batch(cfg, False, mpii), training=False)
    assert model.test_cfg['flip_test']
    with torch.no_grad():
        out = model(**data, mode='predict')
    kpts = out[0].pred_instances.keypoints
    assert kpts.shape == (1, 16, 2)
    assert out[0].pred_instances.keypoint_scores.shape == (1, 16)


def test_loss_is_sum_over_stacks():
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    head = MultiStackHeatmapHead(num_stacks=3, in_channels=4, out_channels=4,
                                 stack_weights=[1.0, 2.0, 3.0])
    gt = torch.rand(4, 8, 8)
    s = PoseDataSample(gt_fields=PixelData(heatmaps=gt),
                       gt_instance_labels=InstanceData(keypoint_weights=torch.ones(1, 4)))
    feats = [torch.rand(1, 4, 8, 8) for _ in range(3)]
    loss = head.loss(feats, [s])['loss_kpt']
    # MMPose 1.x KeypointMSELoss(use_target_weight=True, all weights 1) = mean squared error
    expect = sum(w * ((f[0] - gt) ** 2).mean() for w, f in zip([1, 2, 3], feats))
    torch.testing.assert_close(loss, expect)
    with pytest.raises(ValueError, match='expects 3 per-stack inputs, got 2'):
        head(feats[:2])


def test_our_backbone_in_stock_mmpose_head(cfg, mpii):
    """Our backbone under MMPose's own multi-stage CPMHead (stock config style)."""
    head = dict(type='CPMHead', in_channels=16, out_channels=16, num_stages=2,
                final_layer=None, loss=dict(type='KeypointMSELoss', use_target_weight=True),
                decoder=cfg.codec)
    model = build(cfg, head=head)
    data = model.data_preprocessor(mpii_batch(cfg, True, mpii), training=True)
    assert model(**data, mode='loss')['loss_kpt'] > 0


def test_stock_resnet_with_binary_conv(cfg, binary_conv, mpii):
    backbone = dict(type='ResNet', depth=18, base_channels=8, out_indices=(3,),
                    conv_cfg=binary_conv(scale='learned', scale_shape='channel'))
    head = dict(type='HeatmapHead', in_channels=64, out_channels=16,
                deconv_out_channels=(16, 16, 16), deconv_kernel_sizes=(4, 4, 4),
                loss=dict(type='KeypointMSELoss', use_target_weight=True),
                decoder=cfg.codec)
    model = build(cfg, backbone=backbone, head=head)
    n_binary = sum(type(m).__name__ == 'BinaryConv2d' for m in model.modules())
    assert n_binary >= 16
    data = model.data_preprocessor(mpii_batch(cfg, True, mpii), training=True)
    assert model(**data, mode='loss')['loss_kpt'] > 0
