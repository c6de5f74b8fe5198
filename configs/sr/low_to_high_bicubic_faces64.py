# Baseline for stage 2: the same Low-to-High GAN trained on bicubic-downsampled HR faces (the
# usual synthetic pairs) instead of the stage-1 generator's degradations. The paper's claim is
# that this baseline fails on real low-quality LR images.
#   python tools/train.py configs/sr/low_to_high_bicubic_faces64.py
_base_ = ['./low_to_high_faces64.py']

model = dict(lr_source='bicubic', degrader=None, degrader_checkpoint=None)
