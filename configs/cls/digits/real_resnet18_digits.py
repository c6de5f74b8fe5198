# Real ResNet-18 (He et al. layout, width 32, small stem) on the embedded digits.
_base_ = ['../_base_/default_runtime.py', '../_base_/schedules/cls_short.py',
          '../_base_/datasets/digits.py', '../_base_/models/timm_resnet18_small.py']
model = dict(timm_model='real_resnet18')
