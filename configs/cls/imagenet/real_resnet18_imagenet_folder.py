# ImageNet-format folders: data/imagenet/{train,val}/<class>/<image> (1000 classes), 224 px.
# Any entry point of plugins.cls.MODEL_NAMES: --cfg-options model.timm_model=binary_resnet18_rank1
# Try it on the embedded digits written as a folder (10 classes, 32 px):
#   python tools/generate_data.py digits_folder --out data/digits_folder
#   python tools/train.py configs/cls/imagenet/real_resnet18_imagenet_folder.py \
#       --cfg-options train_dataloader.dataset.data_root=data/digits_folder \
#       val_dataloader.dataset.data_root=data/digits_folder model.num_classes=10 \
#       train_dataloader.dataset.num_classes=10 val_dataloader.dataset.num_classes=10 \
#       train_dataloader.dataset.size=32 val_dataloader.dataset.size=32 model.input_size=[3,32,32]
_base_ = ['../_base_/default_runtime.py']
data_root = 'data/imagenet'
num_classes = 1000
model = dict(
    type='TimmClassifier',
    timm_model='real_resnet18',
    num_classes=num_classes,
    input_size=(3, 224, 224),  # resolves size-dependent scales (chw, rank1) at build time
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=(123.675, 116.28, 103.53),
                           std=(58.395, 57.12, 57.375)))
train_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', data_root=data_root, split='train', size=224,
                 train=True, num_classes=num_classes))
val_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageFolderDataset', data_root=data_root, split='val', size=224,
                 train=False, num_classes=num_classes))
test_dataloader = val_dataloader
val_evaluator = dict(type='ClsAccuracy', topk=(1, 5))
test_evaluator = val_evaluator
# the improved binary training recipe uses Adam and a cosine schedule
train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.0))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=90, eta_min=0, by_epoch=True)]
auto_scale_lr = dict(base_batch_size=256)
