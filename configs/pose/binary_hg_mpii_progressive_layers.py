# The main job's binary HPM hourglass trained with progressive binarisation ("Improved training
# of binary networks for human pose estimation and image recognition"): every binary conv
# starts real and the layers switch to binary one by one, last layer first (reverse order),
# over the first two epochs (500 iterations of the embedded set). mode='mix' instead lerps all
# layers from real to binary together.
_base_ = ['./binary_hg_mpii.py']

custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='ProgressiveBinarizationHook', begin=0, end=500, by='iter', mode='layer',
         order='reverse'),
]
