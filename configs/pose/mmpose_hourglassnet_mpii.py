# MMPose's own (CornerNet-style) HourglassNet as a top-down heatmap model, with MMPose's stock
# CPMHead -- the zoo reference of tools/benchmark_pose.py. The stock `hourglass52` width
# (stage_channels (256, 256, 384, 384, 384, 512), ~94M parameters per stack) is far beyond a
# CPU budget, so this config narrows it to the size of our embedded hourglasses; the benchmark
# also reports the stock width's complexity (`mmpose_hourglassnet_stock`).
_base_ = ['./hg_mpii.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='HourglassNet',
        downsample_times=3,
        num_stacks=1,
        stage_channels=(256, 64, 96, 128),
        stage_blocks=(1, 1, 1, 1),
        feat_channel=64),
    head=dict(
        _delete_=True,
        type='CPMHead',
        in_channels=64,
        out_channels=16,
        num_stages=1,
        deconv_out_channels=None,
        final_layer=dict(kernel_size=1),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder={{_base_.codec}}))
