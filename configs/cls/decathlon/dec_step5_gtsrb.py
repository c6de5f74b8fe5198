# Visual Decathlon, incremental step 5: add domain 'gtsrb' (43 classes) to step 4's network.
_base_ = ['./dec_step4_dtd.py']
model = dict(domains=_base_.model.domains + [dict(name='gtsrb', num_classes=43)])
train_dataloader = dict(dataset=dict(domain='gtsrb', num_classes=43))
val_dataloader = dict(dataset=dict(domain='gtsrb', num_classes=43))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step5'
load_from = './work_dirs/cls_decathlon/step4/epoch_30.pth'
