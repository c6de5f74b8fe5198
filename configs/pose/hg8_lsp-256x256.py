# LSP (14 joints, PCK@0.2 by the torso) with Newell's 8-stack real hourglass at the papers'
# size (see hg8_mpii-256x256.py): the LSP data and metric of binary_hg_lsp.py, real bottlenecks.
_base_ = ['./binary_hg_lsp.py']
input_size = (256, 256)
num_stacks = 8
model = dict(backbone=dict(depth=4, channels=256, stem_channels=(64, 128),
                           stem_pool_first=False,
                           block=dict(_delete_=True, type='PreActBottleneck'),
                           hourglass=dict(level_channels=None)))
