# Real-valued stacked hourglass (Newell et al., ECCV 2016) with pre-activation bottlenecks on
# MPII, top-down 128x128 -> 32x32 heatmaps. Sized for the CPU budget of the embedded set
# (2 stacks, 64 channels); the paper's network is num_stacks=8, channels=256, input 256
# (see docs/pose.md). Real MPII: --cfg-options data_root=data/mpii/ (and the two dataloader
# data_roots, see docs/pose.md).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/mpii_embedded.py',
    '../_base_/schedules/pose_short.py',
    '../_base_/models/hourglass_topdown.py',
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

# the network: configs/_base_/models/hourglass_topdown.py (pre-activation bottlenecks)
block = dict(type='PreActBottleneck')
model = dict(backbone=dict(block=block), head=dict(decoder=codec))

# the budget shared by every hourglass config (same for the benchmark table)
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=3, milestones=[2], gamma=0.1, by_epoch=True)
]
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
