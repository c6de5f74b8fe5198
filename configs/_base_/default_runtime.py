# Runtime shared by the pose/face configs (MMPose-flavoured, CPU-first).
custom_imports = dict(imports=['plugins'], allow_failed_imports=False)
default_scope = 'mmpose'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # saves atomically and prunes old checkpoints only after the new one is on disk
    checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
# CurvesHook draws the losses and validation metrics to <work_dir>/curves.png
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='CurvesHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # gloo runs data-parallel training on CPUs; use nccl on GPUs
    dist_cfg=dict(backend='gloo'))

# scalars.json in <work_dir>/<timestamp>/vis_data/. For TensorBoard as well, add this line to a
# config (README "Training and testing"): visualizer = dict(vis_backends=[dict(
#     type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
backend_args = dict(backend='local')
val_cfg = dict()
test_cfg = dict()
