# Facial part segmentation with the binary HPM hourglass (the TPAMI paper's extra experiment):
# per-pixel part labels (background, skin, brows, eyes, nose, mouth), cross-entropy per stack,
# mean IoU over the 7 parts. Embedded data:
#   python tools/generate_data.py face_parts_synthetic --out data/face_parts_embedded
# Own data: images/<split>/*.png|jpg + masks/<split>/*.png (uint8 labels) under data_root.
# The 'real' split holds the 300W/WFLW sample faces with masks rasterised from landmarks:
#   --cfg-options test_dataloader.dataset.data_prefix.img=images/real \
#                 test_dataloader.dataset.data_prefix.seg=masks/real
_base_ = ['../_base_/default_runtime.py']

classes = ('background', 'skin', 'right_brow', 'left_brow', 'right_eye', 'left_eye', 'nose',
           'mouth')
num_classes = len(classes)
num_stacks = 2
input_size = (128, 128)
data_root = 'data/face_parts_embedded/'
binary_conv = dict(type='BinaryConv2d', scale='learned', scale_shape='channel',
                   scale_init='xnor')

model = dict(
    type='FacePartSegmentor',
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='StackedHourglass', num_stacks=num_stacks, depth=3, channels=64,
        out_channels=num_classes, stem_channels=(32, 64),
        block=dict(type='HPMBlock', conv_cfg=binary_conv, act_cfg=None)),
    head=dict(type='MultiStackSegHead', num_stacks=num_stacks, num_classes=num_classes),
    flip_test=True)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadPartMask'),
    dict(type='RandomPartFlip', prob=0.5),
    dict(type='ResizeImageAndMask', size=input_size),
    dict(type='PackSegInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='LoadPartMask'),
    dict(type='ResizeImageAndMask', size=input_size),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='FacePartsDataset', data_root=data_root,
                 data_prefix=dict(img='images/train', seg='masks/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='FacePartsDataset', data_root=data_root,
                 data_prefix=dict(img='images/val', seg='masks/val'), test_mode=True,
                 pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='PartIoU', num_classes=num_classes, class_names=classes)
test_evaluator = val_evaluator

train_cfg = dict(type='IterBasedTrainLoop', max_iters=600, val_interval=300)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=600, milestones=[480], gamma=0.1, by_epoch=False)
]
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=300, save_best='parts/mIoU', rule='greater'),
    visualization=dict(_delete_=True, type='RuntimeInfoHook'))
log_processor = dict(by_epoch=False)
