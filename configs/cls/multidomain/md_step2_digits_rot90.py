# Incremental multi-domain learning, step 2: add domain 'digits_rot90' (10 classes) to step 1's
# network (earlier domains frozen; only this domain's factors, norms and classifier train).
_base_ = ['./md_step1_digits_inverted.py']
model = dict(domains=_base_.model.domains + [dict(name='digits_rot90', num_classes=10)])
train_dataloader = dict(dataset=dict(domain='digits_rot90', num_classes=10))
val_dataloader = dict(dataset=dict(domain='digits_rot90', num_classes=10))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_multidomain/step2'
load_from = './work_dirs/cls_multidomain/step1/epoch_6.pth'  # last epoch of the previous step
