# THE MAIN JOB: binary hourglass of "Hierarchical binary CNNs for landmark localization with
# limited resources" (Bulat & Tzimiropoulos) -- HPM blocks with BN -> sign -> binary conv,
# XNOR-Net++ learned scaling factors ("XNOR-Net++", per output channel). The stem 7x7 conv,
# the per-stack 1x1 feature/heatmap/merge convs and the 1x1 projection skips stay real, as in
# the papers.
_base_ = ['./hg_mpii.py']

binary_conv = dict(type='BinaryConv2d', scale='learned', scale_shape='channel')
block = dict(type='HPMBlock', conv_cfg=binary_conv, act_cfg=None)
model = dict(backbone=dict(block=block))
