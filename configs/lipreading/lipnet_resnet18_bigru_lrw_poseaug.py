# LRW with online 3DMM pose augmentation ("Towards pose-invariant lip-reading"): half of the
# training clips are fitted with a user-supplied morphable model, rotated to |yaw| in [0, 60]
# (pitch in [-15, 15]) and re-rendered before the mouth crop. Needs per-frame landmarks for the
# training clips (iBUG-68) and a morphable model whose landmark indices follow the same order,
# converted to the .npz layout documented in plugins/lipreading/morphable_model.py, at
#   data/3dmm/morphable_model.npz
# Offline alternative (much cheaper per epoch): tools/lipreading/augment_pose.py, then train on a
# ConcatDataset as in lipnet_tiny_lrw-synthetic_poseaug.py.
_base_ = ['./lipnet_resnet18_bigru_lrw.py']

morphable_model = 'data/3dmm/morphable_model.npz'
train_pipeline = [
    dict(type='LoadLRWClip', num_frames=29, require_landmarks=True),
    dict(type='ClipPoseAugment', prob=0.5, yaw_range=(0, 60), pitch_range=(-15, 15),
         morphable_model=morphable_model, camera='orthographic'),
    dict(type='MouthROICrop', out_size=96, crop_size=96),
    dict(type='RandomClipCrop', size=88),
    dict(type='ClipHorizontalFlip', prob=0.5),
    dict(type='TimeMask', max_len=10, num_masks=1),
    dict(type='PackLipClip'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
