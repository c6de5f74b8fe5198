# CPU-sized versions of the paper's networks (the classes' defaults are the paper's widths:
# 64 channels, 12 residual blocks per generator, 6 per discriminator). Unlike the paper, both
# generators add a global skip (pooled_skip: the average-pooled HR; bicubic_skip: the bicubic
# upsampled LR) so that they only learn a residual: with 300 CPU iterations the paper's plain
# generators stay far below bicubic (docs/sr.md gives both results).
high_to_low_generator = dict(type='HighToLowGenerator', in_size=64, channels=16, noise_dim=64,
                             num_down=4, num_up=2, blocks_per_group=1,
                             pooled_skip=True)
high_to_low_discriminator = dict(type='SRDiscriminator', in_size=16, channels=16, num_blocks=4,
                                 spectral_norm=True)
low_to_high_generator = dict(type='LowToHighGenerator', channels=16, scale=4,
                             blocks_per_group=(2, 1, 1), bicubic_skip=True)
low_to_high_discriminator = dict(type='SRDiscriminator', in_size=64, channels=16, num_blocks=4,
                                 spectral_norm=True)
