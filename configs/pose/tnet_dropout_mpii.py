# T-Net (0.1x, all modes) with tensor dropout on the Tucker core: each rank index of the
# modes of rank > 3 dropped with probability 0.1 during training, see tnet_mpii.py.
_base_ = ['./tnet_mpii.py']
model = dict(backbone=dict(compression=0.1, tensor_dropout=0.1))
