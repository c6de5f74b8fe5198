# Tiny lip-reading network (3-D conv front-end, reduced ResNet-18 trunk, BiGRU) on the embedded
# rendered word set, trained on near-frontal clips only (no pose augmentation).
# A few minutes on 2 CPU cores:  python tools/train.py configs/lipreading/lipnet_tiny_lrw-synthetic.py
_base_ = ['./_base_/lipreading_runtime.py', './_base_/lrw_synthetic_data.py']

model = dict(
    type='LipReadingNet',
    num_classes=6,
    front_channels=8,
    widths=(8, 16, 32, 64),
    blocks=(1, 1, 1, 1),
    backend=dict(type='bigru', hidden=32, layers=1),
    dropout=0.2,
    min_frames=29,
    data_preprocessor=dict(type='LipDataPreprocessor', mean=0.5, std=0.2))

max_iters = 1000
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=3e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=500)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(by_epoch=False))      # iter_<max_iters>.pth
