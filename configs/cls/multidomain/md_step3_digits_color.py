# Incremental multi-domain learning, step 3: add domain 'digits_color' (10 classes) to step 2's
# network (earlier domains frozen; only this domain's factors, norms and classifier train).
_base_ = ['./md_step2_digits_rot90.py']
model = dict(domains=_base_.model.domains + [dict(name='digits_color', num_classes=10)])
train_dataloader = dict(dataset=dict(domain='digits_color', num_classes=10))
val_dataloader = dict(dataset=dict(domain='digits_color', num_classes=10))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_multidomain/step3'
load_from = './work_dirs/cls_multidomain/step2/epoch_6.pth'  # last epoch of the previous step
