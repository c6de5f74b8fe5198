# The paper's network sizes (Bulat et al., 2018, Sec. 3): 64 channels; High-to-Low: 12 residual
# blocks in 6 groups of 2 (64 -> 4 px by pooling, 4 -> 16 px by pixel shuffle); Low-to-High:
# 12 blocks in 3 groups with pixel shuffle x2 between them; discriminators: 6 residual blocks.
# No global skips (the paper has none). Under load, one stage-2 iteration is ~20x the CPU
# configs' (docs/sr.md).
paper_high_to_low_generator = dict(
    type='HighToLowGenerator', in_size=64, channels=64, noise_dim=64, num_down=4, num_up=2,
    blocks_per_group=2, pooled_skip=False)
paper_high_to_low_discriminator = dict(
    type='SRDiscriminator', in_size=16, channels=64, num_blocks=6, spectral_norm=True)
paper_low_to_high_generator = dict(
    type='LowToHighGenerator', channels=64, scale=4, blocks_per_group=(4, 4, 4),
    bicubic_skip=False)
paper_low_to_high_discriminator = dict(
    type='SRDiscriminator', in_size=64, channels=64, num_blocks=6, spectral_norm=True)
