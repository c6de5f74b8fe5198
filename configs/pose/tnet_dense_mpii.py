# The uncompressed baseline of T-Net: the same hourglass with the 8th-order weight tensor
# stored densely (every conv independent), see tnet_mpii.py.
_base_ = ['./tnet_mpii.py']
model = dict(backbone=dict(compression=None))
