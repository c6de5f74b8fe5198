# Stage 1 on the mixed, unseen degradation (plugins/sr/mixed_degradation.py: random kernel,
# decimation/nearest/area, Poisson-like or gaussian noise and JPEG in random order; no training
# component contains these operations); CPU-sized networks of high_to_low_faces64.py.
# Measured in docs/sr.md with tools/sr/benchmark_seeds.py.
_base_ = ['./high_to_low_faces64.py']

data_root = 'data/faces_sr_mixed'
generate = dict(auto_generate='faces_sr_synthetic',
                generate_options=dict(seed=0, degradation='mixed'))
train_dataloader = dict(dataset=dict(data_root=data_root, **generate))
val_dataloader = dict(dataset=dict(data_root=data_root, **generate))
test_dataloader = val_dataloader
