"""Every binary training-recipe config trains through tools/train.py on the real 2-stack
hourglass (narrowed, on a tiny generated MPII set), and the recipe's mechanism is checked on
that run: two-stage (the stage-2 weights are the sign of the stage-1 weights at the switch),
smooth progressive quantisation (binary at the end), stacking (stack 1 starts as stack 0;
the stem and stack 0 stay frozen afterwards), distillation (a teacher trained by the
documented command, per-stack feature and heatmap losses), latent SVD/Tucker/CP, PReLU,
mean-centring and the fourth Gamma shape."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from tools import train as train_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROBES = {}

pytestmark = pytest.mark.slow

#: 4 training images, batch 2, 4 iterations (iteration-based, whatever the schedule of the
#: config); 16 channels, stem (8, 16)
SHRINK = '''
data_root = {data!r}
model = dict(backbone=dict(channels=16, stem_channels=(8, 16)))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, indices=4))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, indices=4,
                                   headbox_file=data_root + 'annotations/mpii_gt_val.mat'))
test_dataloader = val_dataloader
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=4, val_interval=4)
param_scheduler = [dict(type='LinearLR', begin=0, end=2, start_factor=0.5, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(by_epoch=False, interval=2, save_best=None),
                     probe=dict(type='RecipeProbe', priority='LOWEST'))
log_processor = dict(by_epoch=False)
visualizer = dict(name={vis!r})  # a new visualizer per run (they are per-process singletons)
'''


@HOOKS.register_module(force=True)
class RecipeProbe(Hook):
    """Records, before every iteration (after the recipe hooks), what the tests check."""

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model
        binary = [m for m in model.modules() if hasattr(m, 'binary_mix')]
        first = binary[0] if binary else None  # the first binary conv (a teacher has none)
        PROBES.setdefault('iters', []).append(dict(
            iter=runner.iter,
            real_w=first and first.real_weight().detach().clone(),
            forward_w=first and first._mix(first.weight_quantizer,
                                           first.real_weight()).detach().clone(),
            state={k: v.detach().clone() for k, v in model.state_dict().items()},
            requires_grad={n: p.requires_grad for n, p in model.named_parameters()},
            stack_weights=list(getattr(model.head, 'stack_weights', []))))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        PROBES['iters'][-1]['after'] = {k: v.detach().clone()
                                        for k, v in runner.model.state_dict().items()}

    def after_train(self, runner):
        PROBES['final'] = {k: v.detach().clone() for k, v in runner.model.state_dict().items()}
        PROBES['model'] = runner.model


def _train(tmp_path, name, data, extra='', args=()):
    PROBES.clear()
    cfg = tmp_path / f'{name}_tiny.py'
    cfg.write_text(f"_base_ = [{osp.join(ROOT, 'configs/pose', name + '.py')!r}]\n" +
                   SHRINK.format(data=data + '/', vis=f'vis_{name}_{id(cfg)}') + extra)
    work = str(tmp_path / name)
    runner = train_tool.main([str(cfg), '--work-dir', work, '--threads', '1', *args])
    logs = [json.loads(line) for line in open(
        osp.join(work, runner.timestamp, 'vis_data', 'scalars.json'))]
    return runner, work, logs


def _losses(logs, key='loss'):
    return [r[key] for r in logs if key in r]


@pytest.fixture(scope='module')
def data(mpii_tiny):
    return mpii_tiny


def test_two_stage_trains_and_binarises_the_stage_one_weights(tmp_path, data):
    runner, _, logs = _train(tmp_path, 'binary_hg_mpii_two_stage', data)
    assert runner.iter == 4 and np.isfinite(_losses(logs)).all() and 'PCK' in logs[-1]
    rows = PROBES['iters']
    switch = 2  # switch=0.5 of 4 iterations
    for r in rows[:switch]:
        assert torch.equal(r['forward_w'], r['real_w'])  # stage 1: real weights
    assert not torch.equal(rows[switch - 1]['real_w'], rows[0]['real_w'])  # stage 1 trained
    at_switch = rows[switch]
    sign = np.where(at_switch['real_w'].numpy() < 0, -1.0, 1.0)
    np.testing.assert_array_equal(at_switch['forward_w'].numpy(), sign)
    # the learned scales absorbed mean |W| of the stage-1 weights at the switch
    key = next(k for k in at_switch['state'] if k.endswith('scaling.alpha'))
    wkey = key.replace('scaling.alpha', 'weight')
    before = rows[switch - 1]['after']  # after the last stage-1 step
    w = before[wkey]
    assert torch.equal(w, at_switch['state'][wkey])
    m = w.abs().flatten(1).mean(1)
    assert torch.allclose(at_switch['state'][key], before[key] * m)
    assert all(layer.is_binary for layer in PROBES['model'].modules()
               if hasattr(layer, 'binary_mix'))


def test_smooth_progressive_ends_binary(tmp_path, data):
    from plugins.binary import SmoothSign
    runner, work, logs = _train(tmp_path, 'binary_hg_mpii_progressive', data)
    assert np.isfinite(_losses(logs)).all() and 'PCK' in logs[-1]
    qs = [m for m in PROBES['model'].modules() if isinstance(m, SmoothSign)]
    assert qs and all(q.binary and float(q.k) == pytest.approx(10.0) for q in qs)
    first = PROBES['iters'][0]
    assert not torch.equal(first['forward_w'], torch.sign(first['real_w']))  # smooth at start
    ckpt = torch.load(osp.join(work, 'iter_4.pth'), map_location='cpu', weights_only=False)
    hard = [v for k, v in ckpt['state_dict'].items() if k.endswith('quantizer.hard')]
    assert hard and all(bool(v) for v in hard)  # the checkpoint evaluates binary


def test_stacking_trains_the_real_two_stack_network(tmp_path, data):
    runner, _, logs = _train(tmp_path, 'binary_hg_mpii_stacking', data)
    assert runner.iter == 4 and np.isfinite(_losses(logs)).all()
    rows, final = PROBES['iters'], PROBES['final']
    switch = 2  # two stacks: the second stage starts at 0.5 of the run
    stem = [k for k in final if k.startswith('backbone.stem.')]
    s0 = [k for k in final if k.startswith('backbone.hourglasses.0.')]
    s1 = [k.replace('hourglasses.0.', 'hourglasses.1.') for k in s0]
    assert rows[0]['stack_weights'] == [1.0, 0.0] and rows[switch]['stack_weights'] == [1.0, 1.0]
    assert rows[0]['requires_grad']['backbone.stem.0.0.weight']
    assert not rows[0]['requires_grad'][s1[0]]
    # stage 0 trained the stem, the new stack starts as a copy of the trained stack 0
    assert not torch.equal(rows[switch]['state'][stem[0]], rows[0]['state'][stem[0]])
    for a, b in zip(s0, s1):
        assert torch.equal(rows[switch]['state'][a], rows[switch]['state'][b])
    # stage 1: stem and stack 0 frozen (weights and norm statistics), stack 1 trains
    assert not rows[switch]['requires_grad']['backbone.stem.0.0.weight']
    for k in stem + s0:
        assert torch.equal(final[k], rows[switch]['state'][k]), k
    assert any(not torch.equal(final[k], rows[switch]['state'][k]) for k in s1)
    assert not torch.equal(final['backbone.merge_features.0.weight'],
                           rows[switch]['state']['backbone.merge_features.0.weight'])


def test_distillation_from_a_teacher_made_by_the_documented_command(tmp_path, data):
    # the teacher config's command (docs/binary.md), narrowed like the student
    _, teacher_work, _ = _train(tmp_path, 'binary_hg_mpii_distill_teacher', data)
    teacher_state = PROBES['final']
    extra = f'''
model = dict(teacher=dict(backbone=dict(channels=16, stem_channels=(8, 16))),
             teacher_checkpoint={teacher_work!r})
'''
    runner, _, logs = _train(tmp_path, 'binary_hg_mpii_distill', data, extra)
    assert np.isfinite(_losses(logs, 'loss_feat')).all() and len(_losses(logs, 'loss_kd')) == 4
    model = PROBES['model']
    assert model.feature_modules == ['backbone.features.0', 'backbone.features.1']
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_state[k]), k
    assert not any(k.startswith('teacher') for k in PROBES['final'])


def test_distillation_teacher_is_the_teacher_config():
    student = Config.fromfile(osp.join(ROOT, 'configs/pose/binary_hg_mpii_distill.py'))
    teacher = Config.fromfile(osp.join(ROOT, 'configs/pose/binary_hg_mpii_distill_teacher.py'))
    for part in ('backbone', 'head', 'data_preprocessor'):
        assert student.model.teacher[part] == teacher.model[part], part
    assert teacher.model.backbone.block == dict(type='HPMBlock')  # real HPM blocks


@pytest.mark.parametrize('name,check', [
    ('binary_hg_mpii_latent_svd', 'latent.U'),
    ('binary_hg_mpii_latent_tucker', 'latent.core'),
    ('binary_hg_mpii_latent_cp', 'latent.factors.0'),
    ('binary_hg_mpii_prelu', 'post_act.weight'),
    ('binary_hg_mpii_channel_spatial', 'scaling.beta'),
    ('binary_hg_mpii_centred', None),
    ('binary_hg_mpii_progressive_layers', None),
])
def test_recipe_config_trains(tmp_path, data, name, check):
    runner, _, logs = _train(tmp_path, name, data, args=('--no-validate', ))
    losses = _losses(logs)
    assert runner.iter == 4 and len(losses) == 4 and np.isfinite(losses).all()
    final, first = PROBES['final'], PROBES['iters'][0]['state']
    if check is not None:
        keys = [k for k in final if k.endswith(check)]
        assert keys, f'{name}: no parameter ending in {check}'
        assert any(not torch.equal(final[k], first[k]) for k in keys if k in first)
