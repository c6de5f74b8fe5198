# Shared by the Visual Decathlon steps (configs/cls/decathlon/dec_step{k}_*.py): the network,
# normalisation and the schedule of an added domain. Step 0 (ImageNet-12) learns the shared
# Tucker cores; each later step adds one domain, initialises its factors from ImageNet's and
# trains only them, its norms and its classifier (earlier domains are frozen).
_base_ = ['./default_runtime.py', './datasets/decathlon.py', './models/multidomain_tucker.py']
model = dict(
    network=dict(layers=(4, 4, 4), widths=(64, 128, 256), stem_stride=1),
    data_preprocessor=dict(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)))
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=30, by_epoch=True)]
custom_hooks = [dict(type='InitNewDomainHook', init_from='imagenet12')]
