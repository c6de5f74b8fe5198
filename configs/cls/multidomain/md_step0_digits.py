# Incremental multi-domain learning, step 0: add domain 'digits' (10 classes).
# The first domain learns the shared Tucker cores. Run the steps in order:
#   python tools/train.py configs/cls/multidomain/md_step0_digits.py
#   python tools/train.py configs/cls/multidomain/md_step1_digits_inverted.py ...
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/cls_short.py',
          '../_base_/datasets/digits.py', '../_base_/models/multidomain_tucker.py']
model = dict(domains=[
    dict(name='digits', num_classes=10),
])
train_dataloader = dict(dataset=dict(domain='digits', num_classes=10))
val_dataloader = dict(dataset=dict(domain='digits', num_classes=10))
test_dataloader = val_dataloader
work_dir = './work_dirs/cls_multidomain/step0'
