# Real-valued HourGlass/U-Net hybrid with soft-gated HPM blocks (the FG 2020 paper's network
# is real-valued; compare with hg_mpii.py at the same budget).
_base_ = ['./hg_mpii.py']

model = dict(backbone=dict(
    block=dict(type='HPMBlock', gated=True),
    hourglass=dict(type='HybridHourglassModule', skip_branch='gated', merge='concat')))
