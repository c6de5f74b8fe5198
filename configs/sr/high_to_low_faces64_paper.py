# Stage 1 with the paper's network sizes and no global skip, on the mixed degradation, at the
# paper's learning rate (Adam 1e-4, betas (0, 0.9)). Seconds per iteration on one CPU core.
_base_ = ['./high_to_low_faces64_mixed.py', './_base_/sr_networks_paper.py']

model = dict(generator={{_base_.paper_high_to_low_generator}},
             discriminator={{_base_.paper_high_to_low_discriminator}})
optim_wrapper = dict(generator=dict(optimizer=dict(lr=1e-4)),
                     discriminator=dict(optimizer=dict(lr=1e-4)))
