# Visual Decathlon, incremental step 3: add domain 'daimlerpedcls' (2 classes) to step 2's network.
_base_ = ['./dec_step2_cifar100.py']
model = dict(domains=_base_.model.domains + [dict(name='daimlerpedcls', num_classes=2)])
train_dataloader = dict(dataset=dict(domain='daimlerpedcls', num_classes=2))
val_dataloader = dict(dataset=dict(domain='daimlerpedcls', num_classes=2))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step3'
load_from = './work_dirs/cls_decathlon/step2/epoch_30.pth'
