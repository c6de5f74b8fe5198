# Ablation: binary pre-activation bottleneck hourglass, no scaling factors (the plain binary
# baseline the HPM paper starts from).
_base_ = ['./hg_mpii.py']

binary_conv = dict(type='BinaryConv2d', scale='none')
model = dict(backbone=dict(
    block=dict(type='PreActBottleneck', conv_cfg=binary_conv, act_cfg=None)))
