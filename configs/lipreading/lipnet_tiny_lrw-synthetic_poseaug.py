# As lipnet_tiny_lrw-synthetic.py, but the training set adds 3DMM pose-augmented copies of the
# near-frontal training clips (rotated to |yaw| in [10, 60] degrees), made offline with
#   python tools/lipreading/augment_pose.py data/lrw_synthetic data/lrw_synthetic_pose \
#       --split train --copies 1 --yaw 10 60
# Same number of iterations as the baseline. For online augmentation instead, insert
#   dict(type='ClipPoseAugment', prob=0.5, yaw_range=(10, 60))
# before MouthROICrop in the train pipeline (slower: ~0.3 s per clip).
_base_ = ['./lipnet_tiny_lrw-synthetic.py']

pose_root = 'data/lrw_synthetic_pose'
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(type='LRWDataset', data_root={{_base_.data_root}}, split='train',
                 words={{_base_.words}}, pipeline={{_base_.train_pipeline}}),
            dict(type='LRWDataset', data_root=pose_root, split='train',
                 words={{_base_.words}}, pipeline={{_base_.train_pipeline}}),
        ]))
