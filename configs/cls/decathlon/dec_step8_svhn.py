# Visual Decathlon, incremental step 8: add domain 'svhn' (10 classes) to step 7's network.
_base_ = ['./dec_step7_omniglot.py']
model = dict(domains=_base_.model.domains + [dict(name='svhn', num_classes=10)])
train_dataloader = dict(dataset=dict(domain='svhn', num_classes=10))
val_dataloader = dict(dataset=dict(domain='svhn', num_classes=10))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step8'
load_from = './work_dirs/cls_decathlon/step7/epoch_30.pth'
