# Reference schedule, stage 1 of 3 (mpc001/end-to-end-lipreading, video-only): front-end,
# ResNet-18 trunk and 256-d bottleneck trained with the temporal-convolution back end
# (Conv1d 5/2 + BN + ReLU, max-pool 2, Conv1d 5/2 + BN + ReLU, mean, Linear + BN + ReLU,
# Linear). Adam 3e-4 without weight decay; the learning rate halves every 5 epochs after 5.
#   python tools/train.py configs/lipreading/lipnet_resnet18_lrw_stage1_tconv.py
# then lipnet_resnet18_lrw_stage2_gru_frozen.py, then lipnet_resnet18_lrw_stage3_finetune.py.
_base_ = ['./lipnet_resnet18_bigru_lrw.py']

model = dict(backend=dict(_delete_=True, type='tconv'), label_smoothing=0.0)

max_epochs = 30
optim_wrapper = dict(optimizer=dict(_delete_=True, type='Adam', lr=3e-4, weight_decay=0.0))
param_scheduler = [
    dict(type='ExponentialLR', gamma=0.5**(1 / 5), by_epoch=True, begin=5, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
