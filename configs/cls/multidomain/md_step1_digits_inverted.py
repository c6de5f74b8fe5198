# Incremental multi-domain learning, step 1: add domain 'digits_inverted' (10 classes).
# Earlier domains are frozen; only this domain's factors, norms and classifier train. Later
# steps inherit from this one and from each other, each adding one domain.
_base_ = ['./md_step0_digits.py']
model = dict(domains=_base_.model.domains + [dict(name='digits_inverted', num_classes=10)])
train_dataloader = dict(dataset=dict(domain='digits_inverted', num_classes=10))
val_dataloader = dict(dataset=dict(domain='digits_inverted', num_classes=10))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_multidomain/step1'
load_from = './work_dirs/cls_multidomain/step0/epoch_6.pth'  # last epoch of the previous step
custom_hooks = [dict(type='InitNewDomainHook', init_from='digits')]
# only the new domain's factors/norms/head train: a higher rate (tools/benchmark_cls.py --lr-new)
optim_wrapper = dict(optimizer=dict(lr=1e-2))
