# Visual Decathlon, incremental step 1: add domain 'aircraft' (100 classes) to step 0's network.
# Later steps inherit from this one and from each other, each adding one domain.
_base_ = ['../_base_/decathlon_incremental.py']
model = dict(domains=[
    dict(name='imagenet12', num_classes=1000),
    dict(name='aircraft', num_classes=100),
])
train_dataloader = dict(dataset=dict(domain='aircraft', num_classes=100))
val_dataloader = dict(dataset=dict(domain='aircraft', num_classes=100))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step1'
load_from = './work_dirs/cls_decathlon/step0/epoch_60.pth'
