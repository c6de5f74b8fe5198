# Ablation: binary HPM hourglass without scaling factors (compare with binary_hg_mpii.py,
# which adds XNOR-Net++ learned per-channel scales).
_base_ = ['./binary_hg_mpii.py']

model = dict(backbone=dict(block=dict(conv_cfg=dict(scale='none'))))
