# Embedded face data (plugins/sr/faces_synthetic.py): generated into data_root on first use.
# Use your own folders by changing data_root / *_folder (unpaired HR and LR folders for
# training; paired HR/LR folders with equal file names for evaluation).
data_root = 'data/faces_sr_synthetic'
generate = dict(auto_generate='faces_sr_synthetic', generate_options=dict(seed=0))

train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='UnpairedSRDataset', data_root=data_root, hr_folder='train/hr',
                 lr_folder='train/lr', hr_size=64, scale=4, flip=True, **generate))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='PairedSRDataset', data_root=data_root, hr_folder='test/hr',
                 lr_folder='test/lr', hr_size=64, scale=4, **generate))
test_dataloader = val_dataloader
