# The main job's binary HPM hourglass with XNOR-Net++'s Gamma = alpha (x) beta: one factor per
# output channel times one learned map over the output positions of each conv (resolved on the
# first forward). The other shapes: scale_shape='channel' (the main job), 'chw', 'rank1'.
_base_ = ['./binary_hg_mpii.py']

model = dict(backbone=dict(block=dict(conv_cfg=dict(scale_shape='channel_spatial'))))
