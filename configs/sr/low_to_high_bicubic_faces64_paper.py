# Baseline with the paper's network sizes: the Low-to-High GAN trained on bicubic pairs.
_base_ = ['./low_to_high_faces64_paper.py']

model = dict(lr_source='bicubic', degrader=None, degrader_checkpoint=None)
