# Reference schedule, stage 2 of 3: throw away the temporal-conv back end, freeze front-end,
# trunk and bottleneck (requires_grad=False; batch-norm statistics still update, as in the
# reference) and train the 2-layer BiGRU (512 cells) and classifier for 5 epochs.
# The stage-1 checkpoint loads non-strictly: its back-end keys are dropped, the GRU starts new.
#   python tools/train.py configs/lipreading/lipnet_resnet18_lrw_stage2_gru_frozen.py
_base_ = ['./lipnet_resnet18_lrw_stage3_finetune.py']

model = dict(frozen=('frontend', 'trunk', 'bottleneck'))
load_from = 'work_dirs/lipnet_resnet18_lrw_stage1_tconv/epoch_30.pth'
max_epochs = 5
param_scheduler = []                  # constant: the reference halves only after epoch 5
train_cfg = dict(max_epochs=max_epochs)
