# Stage 1 of "To learn image super-resolution, use a GAN to learn how to do image degradation
# first" (Bulat et al., 2018): the High-to-Low GAN, 64x64 HR faces -> 16x16 LR faces that look
# like the unpaired real LR faces. Embedded data; a few minutes on 2 CPU cores.
#   python tools/train.py configs/sr/high_to_low_faces64.py
_base_ = [
    './_base_/sr_runtime.py', './_base_/faces_sr_synthetic.py', './_base_/sr_networks_tiny.py'
]

model = dict(
    type='HighToLowGAN',
    generator={{_base_.high_to_low_generator}},
    discriminator={{_base_.high_to_low_discriminator}},
    pixel_weight=1.0,  # alpha
    adv_weight=0.05,  # beta
    disc_steps=1)

# 1e-4 in the paper (hundreds of epochs); 2e-4 for a 600-iteration CPU run (1e-3 for 300
# iterations gave much noisier LR faces: Fréchet patch distance 0.18 instead of 0.055)
optim_wrapper = dict(
    generator=dict(optimizer=dict(lr=2e-4)),
    discriminator=dict(optimizer=dict(lr=2e-4)))

train_cfg = dict(max_iters=600, val_interval=600)

# PSNR/SSIM of the generated LR vs the real degradation of the same test face (how close the
# learned degradation is, noise-limited), and the Fréchet patch distance generated vs real LR.
val_evaluator = [
    dict(type='PairedImageMetric', metrics=('psnr', 'ssim'), prefix='hl'),
    dict(type='FrechetDistanceMetric', features='patch', patch_size=4, patch_stride=2, prefix='hl'),
]
test_evaluator = val_evaluator
