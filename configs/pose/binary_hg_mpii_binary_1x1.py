# The main job's binary HPM hourglass (configs/pose/binary_hg_mpii.py) with its 1x1 convs
# binarised too, an export option of issue 14 ("real 1x1 projections may be binarised, where a
# config asks"): the per-stack `features` conv and the `merge_features` / `merge_heatmaps`
# convs, and the blocks' 1x1 projection skips, all with the 3x3 convs' BinaryConv2d settings.
# Each binary 1x1 conv binarises a BatchNorm output (BN -> sign -> conv, as the blocks' convs);
# the 7x7 stem conv and the per-stack heatmap convs stay real (the first and last layers).
# Packed by plugins.deploy.export_binary like the 3x3 convs; its accuracy at the main job's
# budget against the main job config: notes/docs of issue 14 ("binary 1x1 convs").
_base_ = ['./binary_hg_mpii.py']

binary_conv = dict(type='BinaryConv2d', scale='learned', scale_shape='channel',
                   scale_init='xnor')
# skip_act_cfg=None: the projection binarises BN(x) itself (a ReLU first would make every
# sign +1)
block = dict(type='HPMBlock', conv_cfg=binary_conv, act_cfg=None, skip_conv_cfg=binary_conv,
             skip_act_cfg=None)
model = dict(backbone=dict(block=block, feature_conv_cfg=binary_conv, feature_pre_norm=True))
