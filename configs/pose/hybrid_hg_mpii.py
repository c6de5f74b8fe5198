# HourGlass/U-Net hybrid with soft-gated skips (FG 2020): the skip branch is a per-channel
# gated identity concatenated with the upsampled lower branch; ablate with
# --cfg-options model.backbone.hourglass.skip_branch=identity|gated|block
#               model.backbone.hourglass.merge=concat|add
#               model.backbone.hourglass.upsample=nearest|bilinear
# Binary HPM with learned scaling as in binary_hg_mpii.py.
_base_ = ['./binary_hg_mpii.py']

model = dict(backbone=dict(
    block=dict(gated=True),
    hourglass=dict(type='HybridHourglassModule', skip_branch='gated', merge='concat',
                   upsample='nearest')))
