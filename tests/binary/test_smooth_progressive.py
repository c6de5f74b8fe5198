"""SmoothSignScheduleHook: the steepness follows the schedule, the quantisers turn hard at the
end, and the state before each checkpoint is the next iteration's."""
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

import plugins  # noqa: F401
from mmengine.registry import HOOKS
from plugins.binary import BinaryConv2d, SmoothSign


def _model():
    q = dict(type='SmoothSign')
    return nn.Sequential(BinaryConv2d(2, 2, 3, padding=1, act_quantizer=q, weight_quantizer=q),
                         BinaryConv2d(2, 2, 3, padding=1, act_quantizer=q,
                                      weight_quantizer=dict(q, normalize=True)))


def _ks(model):
    return sorted({round(float(m.k), 6) for m in model.modules() if isinstance(m, SmoothSign)})


@pytest.mark.parametrize('schedule', ['exp', 'linear'])
def test_steepness_schedule_and_hard_switch(schedule):
    model = _model()
    hook = HOOKS.build(dict(type='SmoothSignScheduleHook', begin=2, end=0.5, by='iter',
                            k_start=1.0, k_end=16.0, schedule=schedule))
    runner = SimpleNamespace(model=model, iter=0, epoch=0, max_iters=20, max_epochs=1)
    for t in range(0, 14):
        runner.iter = t
        hook.before_train_iter(runner, 0)
        f = min(1.0, max(0.0, (t - 2) / 8))  # end = 0.5 * 20 = 10
        k = 16.0**f if schedule == 'exp' else 1 + 15 * f
        assert _ks(model) == [round(k, 6)]
        hard = [m.binary for m in model.modules() if isinstance(m, SmoothSign)]
        assert hard == [t >= 10] * 4
        assert model[0].is_binary == (t >= 10)
    x = torch.randn(1, 2, 4, 4)
    w = model[0].real_weight()
    assert torch.equal(model[0].weight_quantizer(w), torch.where(w < 0, -1.0, 1.0))
    assert set(model[0].act_quantizer(x).unique().tolist()) <= {-1.0, 1.0}


def test_after_iter_sets_the_next_state_for_the_checkpoint():
    model = _model()
    hook = HOOKS.build(dict(type='SmoothSignScheduleHook', begin=0, end=4, k_start=2.0,
                            k_end=8.0))
    runner = SimpleNamespace(model=model, iter=3, epoch=0, max_iters=10)
    hook.after_train_iter(runner, 0)  # iteration 3 done: the checkpoint holds iteration 4's
    assert _ks(model) == [8.0] and all(
        m.binary for m in model.modules() if isinstance(m, SmoothSign))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="'cosine'.*exp"):
        HOOKS.build(dict(type='SmoothSignScheduleHook', schedule='cosine'))
    with pytest.raises(ValueError, match='fraction.*1.5'):
        HOOKS.build(dict(type='SmoothSignScheduleHook', end=1.5))
    with pytest.raises(ValueError, match='k_start'):
        HOOKS.build(dict(type='SmoothSignScheduleHook', k_start=5.0, k_end=2.0))
    hook = HOOKS.build(dict(type='SmoothSignScheduleHook'))
    with pytest.raises(ValueError, match='no SmoothSign'):
        hook.apply(nn.Sequential(BinaryConv2d(2, 2, 3)), 0, 0, 5)
