# Baseline on the mixed, unseen degradation: the same Low-to-High GAN trained on bicubic pairs.
_base_ = ['./low_to_high_faces64_mixed.py']

model = dict(lr_source='bicubic', degrader=None, degrader_checkpoint=None)
