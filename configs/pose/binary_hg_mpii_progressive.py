# Smooth progressive quantisation ("Improved training of binary networks for human pose
# estimation and image recognition", Bulat et al. 2019; docs/binary.md): every binary conv
# quantises its input and weight with a smooth sign tanh(k x) whose steepness k rises
# geometrically from 1 to 10 over the first 60 % of the iterations; then the hard sign (with
# the clipped straight-through estimator) for the rest, so the trained network is binary.
# The weight is divided by its mean |W| inside the smooth sign (one k suits both).
_base_ = ['./binary_hg_mpii.py']

model = dict(backbone=dict(block=dict(conv_cfg=dict(
    act_quantizer=dict(type='SmoothSign', fn='tanh'),
    weight_quantizer=dict(type='SmoothSign', fn='tanh', normalize=True)))))
custom_hooks = _base_.custom_hooks + [
    dict(type='SmoothSignScheduleHook', begin=0, end=0.6, by='iter', k_start=1.0, k_end=10.0,
         schedule='exp'),
]
