# Visual Decathlon, incremental step 9: add domain 'ucf101' (101 classes).
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
    dict(name='svhn', num_classes=10),
    dict(name='ucf101', num_classes=101),
])
train_dataloader = dict(dataset=dict(domain='ucf101', num_classes=101))
val_dataloader = dict(dataset=dict(domain='ucf101', num_classes=101))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step9'
load_from = './work_dirs/cls_decathlon/step8/epoch_30.pth'
