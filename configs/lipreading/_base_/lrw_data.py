# LRW (Lip Reading in the Wild, BBC). Expected at data/lrw in the official layout:
#   data/lrw/ABOUT/{train,val,test}/ABOUT_00001.mp4   (29 frames, 256x256, 25 fps)
# optionally with per-frame landmarks data/lrw/ABOUT/train/ABOUT_00001_landmarks.npy (29, 68, 2)
# (iBUG-68 order) or pre-extracted .npz clips (frames, landmarks). Without landmarks the mouth is
# cut from the fixed box that the LRW face alignment puts it in.
data_root = 'data/lrw'
words = None            # None = the sorted word folders (500 words); or a list / word-list file
num_frames = 29
mouth_roi = dict(type='MouthROICrop', out_size=96, crop_size=96,
                 fallback_box=(80, 116, 176, 212))

train_pipeline = [
    dict(type='LoadLRWClip', num_frames=num_frames),
    mouth_roi,
    dict(type='RandomClipCrop', size=88),
    dict(type='ClipHorizontalFlip', prob=0.5),
    dict(type='TimeMask', max_len=10, num_masks=1),
    dict(type='PackLipClip'),
]
test_pipeline = [
    dict(type='LoadLRWClip', num_frames=num_frames),
    mouth_roi,
    dict(type='CenterClipCrop', size=88),
    dict(type='PackLipClip'),
]
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='LRWDataset', data_root=data_root, split='train', words=words,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='LRWDataset', data_root=data_root, split='val', words=words,
                 pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='LRWDataset', data_root=data_root, split='test', words=words,
                 pipeline=test_pipeline))
# yaw per clip comes from .npz metadata (e.g. written by a head-pose estimator); clips without
# it count only in the overall top-1
val_evaluator = dict(type='YawBinAccuracy', bins=(0, 20, 40, 60, 90))
test_evaluator = dict(type='YawBinAccuracy', bins=(0, 20, 40, 60, 90),
                      plot_file='work_dirs/lrw_accuracy_vs_yaw.png')
