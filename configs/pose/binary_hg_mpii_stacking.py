# Network stacking ("Improved training of binary networks ..."): train the first hourglass
# alone, then the second with the first frozen (its norms in eval mode). The stacks of
# plugins.pose.StackedHourglass are spread over several module lists, named by templates.
_base_ = ['./binary_hg_mpii.py']

train_cfg = dict(max_epochs=4, val_interval=4)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=4, milestones=[3], gamma=0.1, by_epoch=True)
]
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='StackFreezeHook', num_stacks=2, milestones=[0, 2], by='epoch',
         templates=['backbone.hourglasses.{k}', 'backbone.features.{k}',
                    'backbone.heatmaps.{k}', 'backbone.merge_*.{k}']),
]
