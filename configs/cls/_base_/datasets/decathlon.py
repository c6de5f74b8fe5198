# One Visual Domain Decathlon domain at its documented path:
#   data/decathlon/<domain>/{train,val}/<class>/<image>   (decathlon-1.0-data.tar, 72 px)
# Child configs set `domain`/`num_classes` in both datasets and the model.
data_root = 'data/decathlon'
img_size = 64
train_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='DecathlonDataset', data_root=data_root, split='train', size=img_size,
                 train=True))
val_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='DecathlonDataset', data_root=data_root, split='val', size=img_size,
                 train=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsAccuracy', topk=(1, ))
test_evaluator = val_evaluator
