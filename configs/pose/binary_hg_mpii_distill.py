# The main job's binary HPM hourglass distilled from a real-valued teacher ("Improved training
# of binary networks ..."): the student's heatmap loss plus an MSE to the teacher's heatmaps
# and an attention-transfer loss on the backbone features. Train the teacher first:
#   python tools/train.py configs/pose/hg_mpii.py --work-dir work_dirs/hg_mpii
# then set teacher_checkpoint below (or --cfg-options model.teacher_checkpoint=...).
_base_ = ['./binary_hg_mpii.py']

model = dict(
    type='DistillTopdownPoseEstimator',
    teacher=dict(
        type='TopdownPoseEstimator',
        data_preprocessor={{_base_.model.data_preprocessor}},
        # the student's hourglass with real pre-activation bottlenecks: hg_mpii.py's network
        backbone=dict(_base_.model.backbone, block=dict(type='PreActBottleneck')),
        head={{_base_.model.head}}),
    teacher_checkpoint='work_dirs/hg_mpii/epoch_3.pth',
    distill_loss=dict(type='HeatmapDistillLoss', loss_weight=1.0),
    feature_loss=dict(type='FeatureDistillLoss', mode='attention', loss_weight=1.0))
