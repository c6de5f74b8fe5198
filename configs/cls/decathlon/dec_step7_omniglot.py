# Visual Decathlon, incremental step 7: add domain 'omniglot' (1623 classes) to step 6's network.
_base_ = ['./dec_step6_vgg_flowers.py']
model = dict(domains=_base_.model.domains + [dict(name='omniglot', num_classes=1623)])
train_dataloader = dict(dataset=dict(domain='omniglot', num_classes=1623))
val_dataloader = dict(dataset=dict(domain='omniglot', num_classes=1623))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step7'
load_from = './work_dirs/cls_decathlon/step6/epoch_30.pth'
