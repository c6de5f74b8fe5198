# Network stacking ("Improved training of binary networks ..."): train the first hourglass
# alone (the stem with it; the loss of the later stacks weighted 0), then each next hourglass,
# initialised from the trained one, with the stem and the earlier stacks frozen (their norms in
# eval mode). Stack k of plugins.pose.StackedHourglass spans hourglasses.k, features.k,
# heatmaps.k and the merge_*.(k-1) convs that feed it; the stages split the iterations evenly.
_base_ = ['./binary_hg_mpii.py']

custom_hooks = _base_.custom_hooks + [
    dict(type='StackFreezeHook', num_stacks=_base_.num_stacks, by='iter',
         templates=['backbone.hourglasses.{k}', 'backbone.features.{k}',
                    'backbone.heatmaps.{k}', 'backbone.merge_*.{prev}'],
         stem=['backbone.stem'], init_from_previous=True, mask_later_losses=True),
]
