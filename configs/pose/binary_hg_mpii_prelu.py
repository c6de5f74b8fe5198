# The main job's binary HPM hourglass with a per-channel PReLU after every binary conv ("Improved
# training of binary networks ...": PReLU instead of ReLU after the binary convolutions).
# The learnable-slope variant:
#   --cfg-options model.backbone.block.conv_cfg.post_act.type=LearnableSlope
_base_ = ['./binary_hg_mpii.py']

model = dict(backbone=dict(block=dict(conv_cfg=dict(post_act=dict(type='ChannelPReLU')))))
