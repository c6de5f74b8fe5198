# The CPU-sized top-down stacked hourglass shared by the MPII and face-alignment configs:
# 2 stacks, depth 3, 64 channels, one heatmap per keypoint per stack (intermediate
# supervision through MultiStackHeatmapHead), flip test. A config that inherits it sets the
# head's decoder (its codec), and changes the block (e.g. binary HPM), the number of keypoints
# (backbone out_channels, head in/out_channels) or the width as it needs:
#   model = dict(backbone=dict(block=dict(type='HPMBlock')), head=dict(decoder=codec))
num_stacks = 2
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='StackedHourglass',
        num_stacks=num_stacks,
        depth=3,
        channels=64,
        out_channels=16,
        stem_channels=(32, 64),
        block=dict(type='PreActBottleneck'),
        hourglass=dict(type='HourglassModule')),
    head=dict(
        type='MultiStackHeatmapHead',
        num_stacks=num_stacks,
        in_channels=16,
        out_channels=16,
        loss=dict(type='KeypointMSELoss', use_target_weight=True)),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))
