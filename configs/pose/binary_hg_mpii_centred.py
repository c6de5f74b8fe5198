# The main job's binary HPM hourglass with the weights mean-centred before the sign: at each
# output channel and kernel tap the mean over the input channels is subtracted (the bnn
# toolkit's XNORWeightBinarizer(center_weights=True)); center='filter' subtracts the mean of
# each whole filter instead.
_base_ = ['./binary_hg_mpii.py']

model = dict(backbone=dict(block=dict(conv_cfg=dict(
    weight_quantizer=dict(type='SignSTE', center='in_channels')))))
