# Shared part of the face-alignment configs: binary HPM stacked hourglass with learned
# scaling (as configs/pose/binary_hg_mpii.py), top-down 128x128 -> 32x32 heatmaps, MMPose's
# face pipelines. A dataset config sets dataset_type, data_root, the annotation files,
# num_keypoints and the NME evaluator. 128 keeps CPU training short; the papers use 256x256
# inputs and 64x64 heatmaps: --cfg-options input_size="(256,256)" (tools/*.py rebind the codec
# and pipelines; heatmap_size follows), or the configs/face/*-256x256.py configs.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/pose_short.py',
          '../_base_/models/hourglass_topdown.py']

num_keypoints = 68
input_size = (128, 128)
heatmap_size = (32, 32)
codec = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=heatmap_size, sigma=1.5)
binary_conv = dict(type='BinaryConv2d', scale='learned', scale_shape='channel',
                   scale_init='xnor')

# the network: configs/_base_/models/hourglass_topdown.py with binary HPM blocks
model = dict(
    backbone=dict(out_channels=num_keypoints,
                  block=dict(type='HPMBlock', conv_cfg=binary_conv, act_cfg=None)),
    head=dict(in_channels=num_keypoints, out_channels=num_keypoints, decoder=codec))

data_mode = 'topdown'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0, rotate_factor=60,
         scale_factor=(0.75, 1.25)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(data_mode=data_mode, data_prefix=dict(img='images/'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(data_mode=data_mode, data_prefix=dict(img='images/'), test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
default_hooks = dict(checkpoint=dict(save_best='NME', rule='less'))
