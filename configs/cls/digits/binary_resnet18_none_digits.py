# binary_resnet18_none (see plugins/cls/entrypoints.py) on the embedded digits, same budget as
# real_resnet18_digits.py.
_base_ = ['./real_resnet18_digits.py']
model = dict(timm_model='binary_resnet18_none')
