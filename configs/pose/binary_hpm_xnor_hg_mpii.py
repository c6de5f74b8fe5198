# The main job's binary HPM hourglass with XNOR-Net's analytic scale (mean |W| per output
# channel, recomputed from the weights) instead of XNOR-Net++'s learned one: the scaling claim.
_base_ = ['./binary_hg_mpii.py']
model = dict(backbone=dict(block=dict(conv_cfg=dict(_delete_=True, type='BinaryConv2d',
                                                    scale='xnor'))))
