# Visual Decathlon, incremental step 0: add domain 'imagenet12' (1000 classes).
_base_ = ['../_base_/decathlon_incremental.py']
model = dict(domains=[
    dict(name='imagenet12', num_classes=1000),
])
train_dataloader = dict(dataset=dict(domain='imagenet12', num_classes=1000))
val_dataloader = dict(dataset=dict(domain='imagenet12', num_classes=1000))
test_dataloader = val_dataloader
train_cfg = dict(by_epoch=True, max_epochs=60, val_interval=1)
param_scheduler = [dict(type='CosineAnnealingLR', T_max=60, by_epoch=True)]
custom_hooks = []  # the first domain has nothing to initialise from
work_dir = './work_dirs/cls_decathlon/step0'
