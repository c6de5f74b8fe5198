# Word-level lip reading on LRW (500 words): 3-D conv front-end, ResNet-18 trunk, 256-d
# bottleneck + BatchNorm1d per frame, 2-layer BiGRU with 512 cells per direction (the widths of
# the group's reference code mpc001/end-to-end-lipreading; its README uses 1024 cells:
# --cfg-options model.backend.hidden=1024). Trained end to end in one run; the reference's
# three-stage schedule is lipnet_resnet18_lrw_stage{1,2,3}_*.py.
#   python tools/train.py configs/lipreading/lipnet_resnet18_bigru_lrw.py
_base_ = ['./_base_/lipreading_runtime.py', './_base_/lrw_data.py']

model = dict(
    type='LipReadingNet',
    num_classes=500,
    front_channels=64,
    widths=(64, 128, 256, 512),
    blocks=(2, 2, 2, 2),
    bottleneck=256,
    backend=dict(type='bigru', hidden=512, layers=2, dropout=0.2),
    dropout=0.2,
    label_smoothing=0.1,
    min_frames=29,
    data_preprocessor=dict(type='LipDataPreprocessor', mean=0.421, std=0.165))

max_epochs = 30
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=3e-4, weight_decay=1e-2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs, eta_min=1e-6,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, save_best='lip/top1',
                                     rule='greater', max_keep_ckpts=2))
log_processor = dict(by_epoch=True)
