# Visual Decathlon, incremental step 2: add domain 'cifar100' (100 classes) to step 1's network.
_base_ = ['./dec_step1_aircraft.py']
model = dict(domains=_base_.model.domains + [dict(name='cifar100', num_classes=100)])
train_dataloader = dict(dataset=dict(domain='cifar100', num_classes=100))
val_dataloader = dict(dataset=dict(domain='cifar100', num_classes=100))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step2'
load_from = './work_dirs/cls_decathlon/step1/epoch_30.pth'
