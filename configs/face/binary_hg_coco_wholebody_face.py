# COCO-WholeBody face (68 points), MMPose's COCO-style face set, NME by inter-ocular distance.
# Data at data/coco/: train2017/, val2017/ and annotations/coco_wholebody_{train,val}_v1.0.json.
_base_ = ['./hg_face_base.py']

num_keypoints = 68
dataset_type = 'CocoWholeBodyFaceDataset'
data_root = 'data/coco/'
model = dict(backbone=dict(out_channels=num_keypoints),
             head=dict(in_channels=num_keypoints, out_channels=num_keypoints))
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                     ann_file='annotations/coco_wholebody_train_v1.0.json',
                                     data_prefix=dict(img='train2017/')))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                   ann_file='annotations/coco_wholebody_val_v1.0.json',
                                   data_prefix=dict(img='val2017/')))
test_dataloader = val_dataloader
val_evaluator = dict(type='NME', norm_mode='keypoint_distance')
test_evaluator = val_evaluator
