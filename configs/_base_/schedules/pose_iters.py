# Iteration-based CPU schedule of the MPII pose configs: Adam, linear warm-up, one step decay,
# validation at four points of the run (the learning curve). One variable sets the length:
# --cfg-options max_iters=300 also rescales val_interval and the lr step (milestones).
# It carries the runtime (checkpoints and logs counted in iterations), so a config lists it
# instead of default_runtime.py.
_base_ = ['../default_runtime.py']
max_iters = 600
val_interval = 150
milestones = [480]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', milestones=milestones, gamma=0.1, by_epoch=False)
]
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=val_interval))
log_processor = dict(by_epoch=False)
