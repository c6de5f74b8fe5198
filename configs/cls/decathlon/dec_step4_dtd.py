# Visual Decathlon, incremental step 4: add domain 'dtd' (47 classes).
_base_ = ['../_base_/decathlon_incremental.py']
model = dict(domains=[
    dict(name='imagenet12', num_classes=1000),
    dict(name='aircraft', num_classes=100),
    dict(name='cifar100', num_classes=100),
    dict(name='daimlerpedcls', num_classes=2),
    dict(name='dtd', num_classes=47),
])
train_dataloader = dict(dataset=dict(domain='dtd', num_classes=47))
val_dataloader = dict(dataset=dict(domain='dtd', num_classes=47))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step4'
load_from = './work_dirs/cls_decathlon/step3/epoch_30.pth'
