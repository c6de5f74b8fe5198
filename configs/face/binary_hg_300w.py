# 300W (68 points), NME normalised by the outer-eye-corner distance (MMPose's 300W protocol).
# Data at data/300w/ in MMPose's layout: images/ and annotations/face_landmarks_300w_{train,
# valid}.json (see MMPose's dataset preparation for 300W).
_base_ = ['./hg_face_base.py']

num_keypoints = 68
dataset_type = 'Face300WDataset'
data_root = 'data/300w/'
model = dict(backbone=dict(out_channels=num_keypoints),
             head=dict(in_channels=num_keypoints, out_channels=num_keypoints))
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                     ann_file='annotations/face_landmarks_300w_train.json'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                   ann_file='annotations/face_landmarks_300w_valid.json'))
test_dataloader = val_dataloader
val_evaluator = dict(type='NME', norm_mode='keypoint_distance')
test_evaluator = val_evaluator
