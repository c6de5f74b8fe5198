# Top-down MPII data in MMPose's format. Defaults to the embedded synthetic set
# (python tools/generate_data.py mpii_synthetic --out data/mpii_embedded); for real MPII set
# data_root='data/mpii/' (MMPose's layout: images/, annotations/mpii_{train,val}.json,
# annotations/mpii_gt_val.mat), e.g. --cfg-options data_root=data/mpii/ or in your config.
dataset_type = 'MpiiDataset'
# MMPose's MPII metainfo, by absolute path (found from any working directory, no fallback warning)
metainfo = dict(from_file='{{ fileDirname }}/mpii.py')
data_mode = 'topdown'
data_root = 'data/mpii_embedded/'
input_size = (128, 128)
heatmap_size = (32, 32)
codec = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=heatmap_size, sigma=1)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_prob=0, rotate_factor=30, scale_factor=(0.75, 1.25)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        metainfo=metainfo,
        ann_file='annotations/mpii_train.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        metainfo=metainfo,
        ann_file='annotations/mpii_val.json',
        headbox_file=data_root + 'annotations/mpii_gt_val.mat',
        data_prefix=dict(img='images/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MpiiPCKAccuracy')
test_evaluator = val_evaluator
