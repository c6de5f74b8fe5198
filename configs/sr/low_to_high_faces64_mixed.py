# Stage 2 (the paper's method) on the mixed, unseen degradation: trained on the pairs made by
# the stage-1 generator of high_to_low_faces64_mixed.py, tested on mixed-degradation LR faces.
_base_ = ['./low_to_high_faces64.py']

stage1_checkpoint = 'work_dirs/high_to_low_faces64_mixed'
model = dict(degrader_checkpoint=stage1_checkpoint)
data_root = 'data/faces_sr_mixed'
generate = dict(auto_generate='faces_sr_synthetic',
                generate_options=dict(seed=0, degradation='mixed'))
train_dataloader = dict(dataset=dict(data_root=data_root, **generate))
val_dataloader = dict(dataset=dict(data_root=data_root, **generate))
test_dataloader = val_dataloader
