# T-Net ("T-Net: Parametrizing Fully Convolutional Nets with a Single High-Order Tensor",
# Kossaifi et al., CVPR 2019) on MPII, top-down 128x128 -> 32x32 heatmaps: a 2-stack
# hourglass whose 3x3 convs are all slices of one 8th-order tensor
# (stacks x depth x blocks x convs x in x out x kh x kw) in Tucker form, here at 0.3x the
# parameters of the dense tensor, every mode's rank reduced (rank_scheme='all_modes'; the
# earlier channel-only scheme: rank_scheme='in_out'). Variants: tnet_c{010,005}_mpii.py
# (compression 0.1, 0.05), tnet_dense_mpii.py (same network, uncompressed),
# tnet_dropout_mpii.py (tensor dropout), tnet_c010_in_out_mpii.py (channel-only ranks).
#
# Everything but the backbone (codec, pipeline, data, head, schedule, budget) is inherited from
# hg_mpii.py, so T-Net and the bottleneck hourglass train under the same conditions and one
# override reaches both (tools resolve configs with plugins.engine.config_rebind.load_config):
#   --cfg-options model.backbone.compression=0.2   any ratio
#   --cfg-options max_iters=300                     the run; validation points and lr step follow
#   --cfg-options data_root=data/mpii/              real MPII (see docs/tensor.md)
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
        compression=0.3,  # parameters of the Tucker form / parameters of the dense tensor
        rank_scheme='all_modes',
        tensor_dropout=0.0,
        stem_channels=32,
        heatmap_init_std=0.001))  # heatmaps start at ~0, as StackedHourglass's
