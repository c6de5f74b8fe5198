# Visual Decathlon, incremental step 6: add domain 'vgg-flowers' (102 classes) to step 5's network.
_base_ = ['./dec_step5_gtsrb.py']
model = dict(domains=_base_.model.domains + [dict(name='vgg-flowers', num_classes=102)])
train_dataloader = dict(dataset=dict(domain='vgg-flowers', num_classes=102))
val_dataloader = dict(dataset=dict(domain='vgg-flowers', num_classes=102))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step6'
load_from = './work_dirs/cls_decathlon/step5/epoch_30.pth'
