# A short CPU schedule: Adam with cosine decay (binary networks train well with Adam,
# "Training binary neural networks with real-to-binary convolutions", Martinez et al. 2020).
train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3, weight_decay=0.0))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=6, eta_min=1e-5, by_epoch=True)]
auto_scale_lr = dict(base_batch_size=64)
