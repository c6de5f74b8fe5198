# Visual Decathlon, incremental step 7: add domain 'omniglot' (1623 classes).
_base_ = ['../_base_/decathlon_incremental.py']
model = dict(domains=[
    dict(name='imagenet12', num_classes=1000),
    dict(name='aircraft', num_classes=100),
    dict(name='cifar100', num_classes=100),
    dict(name='daimlerpedcls', num_classes=2),
    dict(name='dtd', num_classes=47),
    dict(name='gtsrb', num_classes=43),
    dict(name='vgg-flowers', num_classes=102),
    dict(name='omniglot', num_classes=1623),
])
train_dataloader = dict(dataset=dict(domain='omniglot', num_classes=1623))
val_dataloader = dict(dataset=dict(domain='omniglot', num_classes=1623))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step7'
load_from = './work_dirs/cls_decathlon/step6/epoch_30.pth'
