# Stage 2 of "To learn image super-resolution, use a GAN to learn how to do image degradation
# first" (Bulat et al., 2018): the Low-to-High GAN (4x, 16 -> 64 px) trained on HR faces paired
# with their degradation by the stage-1 generator, which is read from stage 1's work dir.
#   python tools/train.py configs/sr/high_to_low_faces64.py   # first
#   python tools/train.py configs/sr/low_to_high_faces64.py
_base_ = [
    './_base_/sr_runtime.py', './_base_/faces_sr_synthetic.py', './_base_/sr_networks_tiny.py'
]

# a .pth file or a work dir (its last_checkpoint record is followed)
stage1_checkpoint = 'work_dirs/high_to_low_faces64'

model = dict(
    type='LowToHighGAN',
    generator={{_base_.low_to_high_generator}},
    discriminator={{_base_.low_to_high_discriminator}},
    lr_source='degrader',
    degrader={{_base_.high_to_low_generator}},
    degrader_checkpoint=stage1_checkpoint,
    pixel_weight=1.0,  # alpha
    adv_weight=0.05,  # beta
    disc_steps=1)

optim_wrapper = dict(
    generator=dict(optimizer=dict(lr=1e-3)),
    discriminator=dict(optimizer=dict(lr=1e-3)))

train_cfg = dict(max_iters=300, val_interval=300)

# on the held-out pairs (real-world-like LR, HR): PSNR/SSIM of SR vs HR, Fréchet patch distance
# of SR vs HR
val_evaluator = [
    dict(type='PairedImageMetric', metrics=('psnr', 'ssim'), prefix='lh'),
    dict(type='FrechetDistanceMetric', features='patch', patch_size=8, patch_stride=4, prefix='lh'),
]
test_evaluator = val_evaluator
