# Stage 2 with the paper's network sizes and no global skip, on the mixed degradation, reading
# the stage-1 generator of high_to_low_faces64_paper.py; Adam 1e-4 as in the paper.
_base_ = ['./low_to_high_faces64_mixed.py', './_base_/sr_networks_paper.py']

stage1_checkpoint = 'work_dirs/high_to_low_faces64_paper'
model = dict(generator={{_base_.paper_low_to_high_generator}},
             discriminator={{_base_.paper_low_to_high_discriminator}},
             degrader={{_base_.paper_high_to_low_generator}},
             degrader_checkpoint=stage1_checkpoint)
optim_wrapper = dict(generator=dict(optimizer=dict(lr=1e-4)),
                     discriminator=dict(optimizer=dict(lr=1e-4)))
