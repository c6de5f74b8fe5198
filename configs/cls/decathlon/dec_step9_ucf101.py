# Visual Decathlon, incremental step 9: add domain 'ucf101' (101 classes) to step 8's network.
_base_ = ['./dec_step8_svhn.py']
model = dict(domains=_base_.model.domains + [dict(name='ucf101', num_classes=101)])
train_dataloader = dict(dataset=dict(domain='ucf101', num_classes=101))
val_dataloader = dict(dataset=dict(domain='ucf101', num_classes=101))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step9'
load_from = './work_dirs/cls_decathlon/step8/epoch_30.pth'
