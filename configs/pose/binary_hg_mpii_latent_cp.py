# The main job's binary HPM hourglass whose binary weights are sign() of a real weight rebuilt
# from a latent CP factorisation ("Matrix and tensor decompositions for training binary neural
# networks", Bulat, Kossaifi, Tzimiropoulos & Pantic 2019). The rank is half of the largest
# the weight allows (a float rank is a fraction; docs/binary.md, section 4).
_base_ = ['./binary_hg_mpii.py']

model = dict(backbone=dict(block=dict(conv_cfg=dict(latent=dict(type='CP', rank=0.5)))))
