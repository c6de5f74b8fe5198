# T-Net ("T-Net: Parametrizing Fully Convolutional Nets with a Single High-Order Tensor",
# Kossaifi et al., CVPR 2019) on MPII, top-down 128x128 -> 32x32 heatmaps: a 2-stack
# hourglass whose 3x3 convs are all slices of one 8th-order tensor
# (stacks x depth x blocks x convs x in x out x kh x kw) in Tucker form, here at 0.3x the
# parameters of the dense tensor. Variants: tnet_c{010,005}_mpii.py (compression 0.1, 0.05),
# tnet_dense_mpii.py (same network, uncompressed), tnet_dropout_mpii.py (tensor dropout).
# Any ratio: --cfg-options model.backbone.compression=0.2
# Real MPII: --cfg-options data_root=data/mpii/ (see docs/tensor.md).
#
# Everything but the backbone (codec, pipeline, head, schedule, budget) is hg_mpii.py's, so
# T-Net and the bottleneck hourglass are compared under the same training budget.
_base_ = ['./hg_mpii.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='TNet',
        num_stacks={{_base_.num_stacks}},
        depth=3,
        channels=64,
        out_channels=16,
        convs_per_block=2,
        compression=0.3,  # fraction of the dense 8th-order tensor's parameters
        compress_modes=('in', 'out'),
        tensor_dropout=0.0,
        stem_channels=32))
