# Binary pre-activation bottlenecks with the main job's learned scales, widened to 88 channels
# so that the network holds as many binary weights as the binary HPM hourglass at 64 channels
# (0.62 M): the HPM-vs-bottleneck claim at equal binary parameters ("Hierarchical binary CNNs
# for landmark localization with limited resources").
_base_ = ['./binary_hg_mpii.py']
model = dict(backbone=dict(channels=88, block=dict(_delete_=True, type='PreActBottleneck',
                                                   conv_cfg={{_base_.binary_conv}},
                                                   act_cfg=None)))
