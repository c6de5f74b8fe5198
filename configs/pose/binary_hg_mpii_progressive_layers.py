# Layer-by-layer progressive binarisation (this package's variant, kept for comparison with the
# paper's smooth progressive quantisation in binary_hg_mpii_progressive.py): every binary conv
# starts real and the layers switch to binary one by one, last layer first (reverse order),
# over the first 60 % of the iterations. mode='mix' instead lerps all layers from real to
# binary together (mode='mix' in the hook below).
_base_ = ['./binary_hg_mpii.py']

custom_hooks = _base_.custom_hooks + [
    dict(type='ProgressiveBinarizationHook', begin=0, end=0.6, by='iter', mode='layer',
         order='reverse'),
]
