# AFLW (19 points), NME normalised by the box size (MMPose's AFLW protocol).
# Data at data/aflw/: images/ and annotations/face_landmarks_aflw_{train,test_frontal,test}.json.
_base_ = ['./hg_face_base.py']

num_keypoints = 19
dataset_type = 'AFLWDataset'
data_root = 'data/aflw/'
model = dict(backbone=dict(out_channels=num_keypoints),
             head=dict(in_channels=num_keypoints, out_channels=num_keypoints))
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                     ann_file='annotations/face_landmarks_aflw_train.json'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                   ann_file='annotations/face_landmarks_aflw_test.json'))
test_dataloader = val_dataloader
val_evaluator = dict(type='NME', norm_mode='use_norm_item', norm_item='bbox_size')
test_evaluator = val_evaluator
