# LSP with the binary HPM hourglass at the size of the released binary model (see
# binary_hg1_mpii-256x256.py): 1 stack, depth 4, 256 channels, 256x256 -> 64x64.
_base_ = ['./binary_hg_lsp.py']
input_size = (256, 256)
num_stacks = 1
model = dict(backbone=dict(depth=4, channels=256, stem_channels=(64, 128),
                           stem_pool_first=False,
                           hourglass=dict(level_channels=None)))
