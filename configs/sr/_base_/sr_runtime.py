# Runtime of the two-stage SR GANs (Bulat et al., 2018): iteration-based, one Adam per network.
default_scope = 'mmengine'
custom_imports = dict(imports=['plugins'], allow_failed_imports=False)

# Adam (lr 1e-4, betas (0, 0.9)) for each of the generator and the discriminator, as in the
# paper; the stage configs raise the learning rate for their short CPU budgets.
optim_wrapper = dict(
    constructor='SubnetOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.0, 0.9))),
    discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4, betas=(0.0, 0.9))))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=300, val_interval=300)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=2,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [
    dict(type='SRNumThreadsHook', num_threads=1),
    dict(type='SRSampleGridHook', interval=100, num_samples=8, source='val'),
]

env_cfg = dict(cudnn_benchmark=False,
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
log_processor = dict(by_epoch=False, window_size=25)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
