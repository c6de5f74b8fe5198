# Soft-gated skip connections ("Toward fast and accurate human pose estimation via soft-gated
# skip connections"): per-channel learnable gates on the identity path of every HPM block and
# on the hourglass skip branches. Binary HPM with learned scaling as in binary_hg_mpii.py.
_base_ = ['./binary_hg_mpii.py']

model = dict(backbone=dict(
    block=dict(gated=True),
    hourglass=dict(type='HourglassModule', skip_gate=True)))
