# MMPose's top-down model (ResNet-18 + deconvolution heatmap head) on the embedded set.
# The reference point for the hourglass family; also shows a stock backbone taking our
# convolutions: --cfg-options model.backbone.conv_cfg.type=BinaryConv2d binarises every conv
# of the residual stages and keeps the RGB stem conv real, as the papers do (RealStemResNet:
# MMPose's ResNet with its own stem_conv_cfg, None = dense; with the real conv_cfg below it
# is MMPose's ResNet module for module).
_base_ = [
    '../_base_/datasets/mpii_embedded.py',
    '../_base_/schedules/pose_iters.py'
]
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='RealStemResNet', depth=18, base_channels=32, out_indices=(3, ),
                  conv_cfg=dict(type='Conv2d'), stem_conv_cfg=None),
    head=dict(
        type='HeatmapHead',
        in_channels=256,
        out_channels=16,
        deconv_out_channels=(128, 128, 128),
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder={{_base_.codec}}),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))
default_hooks = dict(checkpoint=dict(save_best='PCK', rule='greater'))
