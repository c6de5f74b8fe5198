# Incremental multi-domain learning, step 4: add domain 'digits_parity' (2 classes) to step 3's
# network (earlier domains frozen; only this domain's factors, norms and classifier train).
_base_ = ['./md_step3_digits_color.py']
model = dict(domains=_base_.model.domains + [dict(name='digits_parity', num_classes=2)])
train_dataloader = dict(dataset=dict(domain='digits_parity', num_classes=2))
val_dataloader = dict(dataset=dict(domain='digits_parity', num_classes=2))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_multidomain/step4'
load_from = './work_dirs/cls_multidomain/step3/epoch_6.pth'  # last epoch of the previous step
