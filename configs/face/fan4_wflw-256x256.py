# WFLW with the real face-alignment network of the papers' size (FAN, "How far are we from
# solving the 2D & 3D face alignment problem?", Bulat & Tzimiropoulos, ICCV 2017): 4 stacks of
# hourglasses with real hierarchical (HPM) blocks, depth 4, 256 channels, 256x256 -> 64x64.
_base_ = ['./binary_hg_wflw.py']
input_size = (256, 256)
num_stacks = 4
model = dict(backbone=dict(depth=4, channels=256, stem_channels=(64, 128),
                           block=dict(_delete_=True, type='HPMBlock'),
                           hourglass=dict(level_channels=None)))
