# Reference schedule, stage 3 of 3: the whole network (front-end, trunk, bottleneck, BiGRU 512)
# end to end, starting from stage 2; same optimiser and schedule as stage 1 (30 epochs).
#   python tools/train.py configs/lipreading/lipnet_resnet18_lrw_stage3_finetune.py
_base_ = ['./lipnet_resnet18_lrw_stage1_tconv.py']

model = dict(backend=dict(_delete_=True, type='bigru', hidden=512, layers=2, dropout=0.2))
# the reference starts from the best stage-2 epoch; point this to work_dirs/.../best_*.pth
load_from = 'work_dirs/lipnet_resnet18_lrw_stage2_gru_frozen/epoch_5.pth'
