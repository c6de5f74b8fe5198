# T-Net ("T-Net: Parametrizing Fully Convolutional Nets with a Single High-Order Tensor",
# Kossaifi et al., CVPR 2019) on MPII, top-down 128x128 -> 32x32 heatmaps: a 2-stack
# hourglass whose 3x3 convs are all slices of one 8th-order tensor
# (stacks x depth x blocks x convs x in x out x kh x kw) in Tucker form, here at 0.3x the
# parameters of the dense tensor, every mode's rank reduced (rank_scheme='all_modes'; the
# earlier channel-only scheme: rank_scheme='in_out'). Variants: tnet_c{010,005}_mpii.py
# (compression 0.1, 0.05), tnet_dense_mpii.py (same network, uncompressed),
# tnet_dropout_mpii.py (tensor dropout). Any ratio: --cfg-options model.backbone.compression=0.2
# Real MPII: --cfg-options data_root=data/mpii/ (see docs/tensor.md).
#
# Codec, pipeline, head, schedule and budget are those of hg_mpii.py as of commit 175276c,
# written out here (pinned) so that the T-Net table stays comparable while the hourglass
# configs evolve; T-Net and that bottleneck hourglass train under the same conditions.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/mpii_embedded.py',
]

codec = dict(type='MSRAHeatmap', input_size=(128, 128), heatmap_size=(32, 32), sigma=2)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0, rotate_factor=30, scale_factor=(0.75, 1.25)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

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
        compression=0.3,  # parameters of the Tucker form / parameters of the dense tensor
        rank_scheme='all_modes',
        tensor_dropout=0.0,
        stem_channels=32),
    head=dict(
        type='MultiStackHeatmapHead',
        num_stacks=num_stacks,
        in_channels=16,
        out_channels=16,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

# budget: 3 epochs of the 4000 embedded images (750 iterations at batch 16)
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=3, milestones=[2], gamma=0.1, by_epoch=True)
]
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
