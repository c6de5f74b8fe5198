# A short CPU schedule for the embedded set: Adam, warm-up, step decay.
train_cfg = dict(by_epoch=True, max_epochs=8, val_interval=2)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=8, milestones=[6], gamma=0.1, by_epoch=True)
]
auto_scale_lr = dict(base_batch_size=16)
