# T-Net at 0.05x the parameters of the dense hourglass tensor (see tnet_mpii.py).
_base_ = ['./tnet_mpii.py']
model = dict(backbone=dict(compression=0.05))
