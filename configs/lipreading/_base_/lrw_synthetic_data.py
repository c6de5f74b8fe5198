# The embedded talking-mouth word set (plugins/lipreading/synthetic.py), generated with
#   python tools/generate_data.py lrw_synthetic --out data/lrw_synthetic   (or tools/lipreading/evidence.py)
data_root = 'data/lrw_synthetic'
words = ['ABOUT', 'BETWEEN', 'MONEY', 'PEOPLE', 'THINK', 'WORLD']
num_frames = 29
mouth_roi = dict(type='MouthROICrop', out_size=32, crop_size=32)

train_pipeline = [
    dict(type='LoadLRWClip', num_frames=num_frames),
    mouth_roi,
    dict(type='RandomClipCrop', size=28),
    dict(type='ClipHorizontalFlip', prob=0.5),
    dict(type='TimeMask', max_len=3, num_masks=1),
    dict(type='PackLipClip'),
]
test_pipeline = [
    dict(type='LoadLRWClip', num_frames=num_frames),
    mouth_roi,
    dict(type='CenterClipCrop', size=28),
    dict(type='PackLipClip'),
]
train_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='LRWDataset', data_root=data_root, split='train', words=words,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='LRWDataset', data_root=data_root, split='val', words=words,
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='LRWDataset', data_root=data_root, split='test', words=words,
                 pipeline=test_pipeline))
val_evaluator = dict(type='YawBinAccuracy', bins=(0, 15, 30, 45, 60))
test_evaluator = dict(type='YawBinAccuracy', bins=(0, 15, 30, 45, 60))
