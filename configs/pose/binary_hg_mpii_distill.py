# The main job's binary HPM hourglass distilled from a real-valued HPM teacher ("Improved
# training of binary networks ..."): the student's heatmap loss, plus an MSE to the teacher's
# heatmaps (every stack) and an attention-transfer loss on the backbone features (the output
# of every stack's feature layer, backbone.features.<k>). Two commands:
#   python tools/train.py configs/pose/binary_hg_mpii_distill_teacher.py
#   python tools/train.py configs/pose/binary_hg_mpii_distill.py
# The teacher is read from the latest checkpoint of the first run's work dir (or set
# --cfg-options model.teacher_checkpoint=PATH).
_base_ = ['./binary_hg_mpii.py']

model = dict(
    type='DistillTopdownPoseEstimator',
    teacher=dict(
        type='TopdownPoseEstimator',
        data_preprocessor={{_base_.model.data_preprocessor}},
        # = binary_hg_mpii_distill_teacher.py's network (real HPM blocks); a test checks it
        backbone=dict(_base_.model.backbone, block=dict(type='HPMBlock')),
        head={{_base_.model.head}}),
    teacher_checkpoint='work_dirs/binary_hg_mpii_distill_teacher',
    distill_loss=dict(type='HeatmapDistillLoss', loss_weight=1.0),
    feature_loss=dict(type='FeatureDistillLoss', mode='attention', loss_weight=1.0),
    feature_modules=['backbone.features.*'])
