# Two-stage training ("Improved training of binary networks ...", its reverse-order
# initialisation; the bnn toolkit's XNOR-Net++ recipe has the same two steps): the first half
# of the iterations trains binary activations with real weights, the second half binarises
# the weights too, starting from the stage-1 weights (sign(W)); at the switch the learned
# scale of each output channel is multiplied by mean |W| so alpha * sign(W) keeps W's size.
# One run, one command: python tools/train.py configs/pose/binary_hg_mpii_two_stage.py
_base_ = ['./binary_hg_mpii.py']

custom_hooks = _base_.custom_hooks + [
    dict(type='TwoStageBinarizationHook', switch=0.5, by='iter', rescale=True),
]
