# Real-valued stacked hourglass (Newell et al., ECCV 2016) with pre-activation bottlenecks on
# MPII, top-down 128x128 -> 32x32 heatmaps. Sized for the CPU budget of the embedded set
# (2 stacks, 64 channels); the paper's network is num_stacks=8, channels=256, input 256
# (see docs/pose.md). Real MPII: --cfg-options data_root=data/mpii/ (and the two dataloader
# data_roots, see docs/pose.md).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/mpii_embedded.py',
    '../_base_/schedules/pose_short.py',
]

# sigma 2 (base: 1) gives the short CPU budget a denser target to escape the all-zero
# heatmap plateau; the decoder uses the same codec
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
block = dict(type='PreActBottleneck')
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='StackedHourglass',
        num_stacks=num_stacks,
        depth=3,
        channels=64,
        out_channels=16,
        stem_channels=(32, 64),
        block=block,
        hourglass=dict(type='HourglassModule')),
    head=dict(
        type='MultiStackHeatmapHead',
        num_stacks=num_stacks,
        in_channels=16,
        out_channels=16,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

# the budget shared by every hourglass config (same for the benchmark table)
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=3, milestones=[2], gamma=0.1, by_epoch=True)
]
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
