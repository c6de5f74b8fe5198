# Visual Decathlon, incremental step 2: add domain 'cifar100' (100 classes).
_base_ = ['../_base_/decathlon_incremental.py']
model = dict(domains=[
    dict(name='imagenet12', num_classes=1000),
    dict(name='aircraft', num_classes=100),
    dict(name='cifar100', num_classes=100),
])
train_dataloader = dict(dataset=dict(domain='cifar100', num_classes=100))
val_dataloader = dict(dataset=dict(domain='cifar100', num_classes=100))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step2'
load_from = './work_dirs/cls_decathlon/step1/epoch_30.pth'
