# Incremental multi-domain learning, step 1: add domain 'digits_inverted' (10 classes).
# Earlier domains are frozen; only this domain's factors, norms and classifier train.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/cls_short.py',
          '../_base_/datasets/digits.py', '../_base_/models/multidomain_tucker.py']
model = dict(domains=[
    dict(name='digits', num_classes=10),
    dict(name='digits_inverted', num_classes=10),
])
train_dataloader = dict(dataset=dict(domain='digits_inverted', num_classes=10))
val_dataloader = dict(dataset=dict(domain='digits_inverted', num_classes=10))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_multidomain/step1'
load_from = './work_dirs/cls_multidomain/step0/epoch_6.pth'  # last epoch of the previous step
custom_hooks = [dict(type='InitNewDomainHook', init_from='digits')]
# only the new domain's factors/norms/head train: a higher rate (tools/benchmark_cls.py --lr-new)
optim_wrapper = dict(optimizer=dict(lr=1e-2))
