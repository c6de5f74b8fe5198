# Real-valued stacked hourglass (Newell et al., ECCV 2016) with pre-activation bottlenecks on
# MPII, top-down 128x128 -> 32x32 heatmaps. Sized for the CPU budget of the embedded set (2
# stacks, depth 3, 64 channels, stem blocks at H/4); the paper's network is
# configs/pose/hg8_mpii-256x256.py. One variable changes a setting everywhere it is used
# (tools/*.py resolve configs with plugins.engine.config_rebind.load_config):
#   --cfg-options data_root=data/mpii/          real MPII in MMPose's layout (docs/pose.md)
#   --cfg-options input_size="(256,256)"        codec, pipelines; heatmaps follow (64x64)
#   --cfg-options max_iters=1200                the run; validation points and lr step follow
_base_ = [
    '../_base_/datasets/mpii_embedded.py',
    '../_base_/schedules/pose_iters.py',
    '../_base_/models/hourglass_topdown.py',
]

# sigma 2 (base: 1): a denser target for the short CPU budget; the decoder uses the same codec
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
model = dict(backbone=dict(block=block, stem_pool_first=True), head=dict(decoder=codec))

# the budget shared by every hourglass config (configs/_base_/schedules/pose_iters.py)
max_iters = 600
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
