# Visual Decathlon, incremental step 3: add domain 'daimlerpedcls' (2 classes).
_base_ = ['../_base_/decathlon_incremental.py']
model = dict(domains=[
    dict(name='imagenet12', num_classes=1000),
    dict(name='aircraft', num_classes=100),
    dict(name='cifar100', num_classes=100),
    dict(name='daimlerpedcls', num_classes=2),
])
train_dataloader = dict(dataset=dict(domain='daimlerpedcls', num_classes=2))
val_dataloader = dict(dataset=dict(domain='daimlerpedcls', num_classes=2))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step3'
load_from = './work_dirs/cls_decathlon/step2/epoch_30.pth'
