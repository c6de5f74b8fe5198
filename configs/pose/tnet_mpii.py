# T-Net ("T-Net: Parametrizing Fully Convolutional Nets with a Single High-Order Tensor",
# Kossaifi et al., CVPR 2019) on MPII, top-down 128x128 -> 32x32 heatmaps: a 2-stack
# hourglass whose 3x3 convs are all slices of one 8th-order tensor
# (stacks x depth x blocks x convs x in x out x kh x kw) in Tucker form, here at 0.3x the
# parameters of the dense tensor. Variants: tnet_c{010,005}_mpii.py (compression 0.1, 0.05),
# tnet_dense_mpii.py (same network, uncompressed), tnet_dropout_mpii.py (tensor dropout).
# Any ratio: --cfg-options model.backbone.compression=0.2
# Real MPII: --cfg-options data_root=data/mpii/ (see docs/tensor.md).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/mpii_embedded.py',
    '../_base_/schedules/pose_short.py',
]

num_stacks = 2
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='TNet',
        num_stacks=num_stacks,
        depth=3,
        channels=64,
        out_channels=16,
        convs_per_block=2,
        compression=0.3,  # fraction of the dense 8th-order tensor's parameters
        compress_modes=('in', 'out'),
        tensor_dropout=0.0,
        stem_channels=32),
    head=dict(
        type='MultiStackHeatmapHead',
        num_stacks=num_stacks,
        in_channels=16,
        out_channels=16,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder={{_base_.codec}}),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

# the budget shared with configs/pose/hg_mpii.py and every T-Net variant
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=3, milestones=[2], gamma=0.1, by_epoch=True)
]
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
