# Visual Decathlon, incremental step 1: add domain 'aircraft' (100 classes).
# Step 0 (ImageNet-12) learns the shared Tucker cores; later steps train only the
# new domain's factors, norms and classifier (earlier domains are frozen).
_base_ = ['../_base_/default_runtime.py', '../_base_/datasets/decathlon.py',
          '../_base_/models/multidomain_tucker.py']
model = dict(
    network=dict(layers=(4, 4, 4), widths=(64, 128, 256), stem_stride=1),
    data_preprocessor=dict(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)),
    domains=[
    dict(name='imagenet12', num_classes=1000),
    dict(name='aircraft', num_classes=100),
    ])
train_dataloader = dict(dataset=dict(domain='aircraft', num_classes=100))
val_dataloader = dict(dataset=dict(domain='aircraft', num_classes=100))
test_dataloader = val_dataloader
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=30, by_epoch=True)]
work_dir = './work_dirs/cls_decathlon/step1'
load_from = './work_dirs/cls_decathlon/step0/epoch_60.pth'
custom_hooks = [dict(type='InitNewDomainHook', init_from='imagenet12')]
