# THE MAIN JOB: binary hourglass of "Hierarchical binary CNNs for landmark localization with
# limited resources" (Bulat & Tzimiropoulos) -- HPM blocks with BN -> sign -> binary conv,
# XNOR-Net++ learned scaling factors ("XNOR-Net++", per output channel). The stem 7x7 conv,
# the per-stack 1x1 feature/heatmap/merge convs and the 1x1 projection skips stay real, as in
# the papers.
_base_ = ['./hg_mpii.py']

# the learned scales start at XNOR-Net's analytic value (mean |W| per output channel), so the
# binary convs start at the magnitude of the real ones; with 'ones' the +-1 products
# (~sqrt(fan_in)) swamp the identity paths (residual stream ~30-100x larger at init)
binary_conv = dict(type='BinaryConv2d', scale='learned', scale_shape='channel',
                   scale_init='xnor')
block = dict(type='HPMBlock', conv_cfg=binary_conv, act_cfg=None)
model = dict(backbone=dict(block=block))
