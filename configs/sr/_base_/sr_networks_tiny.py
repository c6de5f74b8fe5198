# CPU-sized versions of the paper's networks (the classes' defaults are the paper's widths:
# 64 channels, 12 residual blocks per generator, 6 per discriminator).
high_to_low_generator = dict(type='HighToLowGenerator', in_size=64, channels=16, noise_dim=64,
                             num_down=4, num_up=2, blocks_per_group=1)
high_to_low_discriminator = dict(type='SRDiscriminator', in_size=16, channels=16, num_blocks=4,
                                 spectral_norm=True)
low_to_high_generator = dict(type='LowToHighGenerator', channels=16, scale=4,
                             blocks_per_group=(2, 1, 1))
low_to_high_discriminator = dict(type='SRDiscriminator', in_size=64, channels=16, num_blocks=4,
                                 spectral_norm=True)
