# The binary HPM hourglass at the size of the authors' released binary MPII model
# ("Hierarchical binary CNNs for landmark localization with limited resources", Bulat &
# Tzimiropoulos; released model 1.3 MB, PCKh 76.9): 1 stack, depth 4, 256 channels, binary HPM
# blocks, real stem and 1x1 layers, 256x256 input -> 64x64 heatmaps. Packs to 1.26 MiB
# (docs/pose.md). Real MPII: --cfg-options data_root=data/mpii/
_base_ = ['./binary_hg_mpii.py']
input_size = (256, 256)
num_stacks = 1
model = dict(backbone=dict(depth=4, channels=256, stem_channels=(64, 128),
                           stem_pool_first=False,
                           hourglass=dict(level_channels=None)))
