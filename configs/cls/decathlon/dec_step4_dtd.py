# Visual Decathlon, incremental step 4: add domain 'dtd' (47 classes) to step 3's network.
_base_ = ['./dec_step3_daimlerpedcls.py']
model = dict(domains=_base_.model.domains + [dict(name='dtd', num_classes=47)])
train_dataloader = dict(dataset=dict(domain='dtd', num_classes=47))
val_dataloader = dict(dataset=dict(domain='dtd', num_classes=47))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_decathlon/step4'
load_from = './work_dirs/cls_decathlon/step3/epoch_30.pth'
