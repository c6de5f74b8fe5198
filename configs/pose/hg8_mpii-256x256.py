# The stacked hourglass as published (Newell et al., "Stacked Hourglass Networks for Human Pose
# Estimation", ECCV 2016): 8 stacks, depth 4, 256 channels at every scale, pre-activation
# bottlenecks, 256x256 input -> 64x64 heatmaps (sigma 2, as MMPose's hourglass52 MPII config).
# 25.4 M parameters (paper: ~25 M). Everything else (data, schedule, head) from hg_mpii.py;
# input_size reaches the codec and pipelines through tools/*.py's load_config, and
# heatmap_size follows it (docs/pose.md). Real MPII: --cfg-options data_root=data/mpii/
_base_ = ['./hg_mpii.py']
input_size = (256, 256)
num_stacks = 8
model = dict(backbone=dict(depth=4, channels=256, stem_channels=(64, 128),
                           stem_pool_first=False,
                           hourglass=dict(level_channels=None)))
