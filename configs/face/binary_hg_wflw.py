# WFLW (98 points), NME normalised by the inter-ocular distance (MMPose's WFLW protocol).
# Data at data/wflw/: images/ and annotations/face_landmarks_wflw_{train,test}.json.
_base_ = ['./hg_face_base.py']

num_keypoints = 98
dataset_type = 'WFLWDataset'
data_root = 'data/wflw/'
model = dict(backbone=dict(out_channels=num_keypoints),
             head=dict(in_channels=num_keypoints, out_channels=num_keypoints))
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                     ann_file='annotations/face_landmarks_wflw_train.json'))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root,
                                   ann_file='annotations/face_landmarks_wflw_test.json'))
test_dataloader = val_dataloader
val_evaluator = dict(type='NME', norm_mode='keypoint_distance')
test_evaluator = val_evaluator
