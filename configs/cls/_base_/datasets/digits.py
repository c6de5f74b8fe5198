# scikit-learn's bundled digits (no download), upsampled to 16x16, 3 channels.
# The domain and the class count are variables that child configs override.
domain = 'digits'
num_classes = 10
img_size = 16
train_dataloader = dict(
    batch_size=64, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='DigitsDataset', domain=domain, split='train', size=img_size,
                 num_classes=num_classes))
val_dataloader = dict(
    batch_size=128, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='DigitsDataset', domain=domain, split='val', size=img_size,
                 num_classes=num_classes))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsAccuracy', topk=(1, ))
test_evaluator = val_evaluator
