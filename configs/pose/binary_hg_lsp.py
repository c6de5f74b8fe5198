# LSP (14 joints) with the binary HPM hourglass, PCK@0.2 normalised by the torso (the LSP
# protocol; MMPose has no LSP dataset, plugins/datasets/lsp.py adds it). Data at data/lsp/:
# images/im0001.jpg ... and LSP's joints.mat (first 1000 = train, last 1000 = test), or
# MMPose-style json via ann_file=... . LSP-extended: joints.mat of shape (14, 3, 10000).
_base_ = ['./binary_hg_mpii.py']

num_keypoints = 14
dataset_type = 'LSPDataset'
data_root = 'data/lsp/'
model = dict(backbone=dict(out_channels=num_keypoints),
             head=dict(in_channels=num_keypoints, out_channels=num_keypoints))
# metainfo=None: LSPDataset's own 14-joint metainfo, not the MPII file the base's train set
# names (with it, a horizontal flip read MPII's 16 flip indices)
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, ann_file='joints.mat', split='train',
    data_prefix=dict(img='images/'), metainfo=None))
val_dataloader = dict(dataset=dict(
    _delete_=True, type=dataset_type, data_root=data_root, ann_file='joints.mat',
    split='test', data_mode='topdown', data_prefix=dict(img='images/'), test_mode=True,
    pipeline={{_base_.val_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='TorsoPCKAccuracy', thr=0.2)
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
