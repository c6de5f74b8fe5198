# T-Net at 0.1x with the earlier rank scheme: only the in/out channel modes compressed (every
# conv then reads and writes one shared 20-d channel subspace), see tnet_mpii.py.
_base_ = ['./tnet_mpii.py']
model = dict(backbone=dict(compression=0.1, rank_scheme='in_out'))
