"""TwoStageBinarizationHook: real weights (binary activations) in stage 1; at the switch the
forward weights become the sign of the stage-1 weights and learned scales absorb mean |W|."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import plugins  # noqa: F401
from mmengine.registry import HOOKS
from plugins.binary import BinaryConv2d


def _model(scale_shape='channel'):
    torch.manual_seed(0)
    return nn.Sequential(
        BinaryConv2d(3, 4, 3, padding=1, scale='learned', scale_shape=scale_shape,
                     scale_init='xnor'),
        BinaryConv2d(4, 4, 3, padding=1, scale='none'))


def _forward_weight(layer):
    return layer._mix(layer.weight_quantizer, layer.real_weight()).detach()


@pytest.mark.parametrize('scale_shape', ['channel', 'chw', 'rank1', 'channel_spatial'])
def test_stage_one_real_weights_then_sign_of_stage_one_weights(scale_shape):
    model = _model(scale_shape)
    model(torch.randn(1, 3, 5, 5))  # resolve the spatial scales
    hook = HOOKS.build(dict(type='TwoStageBinarizationHook', switch=0.5, by='iter'))
    runner = SimpleNamespace(model=model, iter=0, max_iters=8, logger=None)
    runner.logger = SimpleNamespace(info=lambda *a: None)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(2, 3, 5, 5)
    for t in range(4):  # stage 1: the forward uses the real weights; activations stay binary
        runner.iter = t
        hook.before_train_iter(runner, 0)
        for layer in model:
            assert torch.equal(_forward_weight(layer), layer.real_weight().detach())
            assert not layer.is_binary and layer.act_quantizer is not None
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    w1 = [layer.real_weight().detach().clone() for layer in model]
    s = model[0].scaling
    before = {n: p.detach().clone() for n, p in s.named_parameters()}
    runner.iter = 4
    hook.before_train_iter(runner, 0)
    for layer, w in zip(model, w1):
        sign = np.where(w.numpy() < 0, -1.0, 1.0)
        np.testing.assert_array_equal(_forward_weight(layer).numpy(), sign)
        assert layer.is_binary
    m = np.abs(w1[0].numpy()).reshape(4, -1).mean(1)
    key = 'gamma' if scale_shape == 'chw' else 'alpha'
    expected = before[key].numpy() * (m[:, None, None] if key == 'gamma' else m)
    np.testing.assert_allclose(getattr(s, key).detach().numpy(), expected, rtol=1e-6)
    hook.before_train_iter(runner, 0)  # a second call at stage 2 does not fold again
    np.testing.assert_allclose(getattr(s, key).detach().numpy(), expected, rtol=1e-6)


def test_checkpoint_keys_and_resume_at_the_switch():
    q = dict(type='SmoothSign', hard=True, normalize=True)
    model = nn.Sequential(BinaryConv2d(2, 2, 3, weight_quantizer=q))
    keys = set(model.state_dict())
    hook = HOOKS.build(dict(type='TwoStageBinarizationHook', switch=3))
    runner = SimpleNamespace(model=model, iter=0, logger=SimpleNamespace(info=print))
    hook.before_train_iter(runner, 0)
    assert set(model.state_dict()) == keys  # stage 1 checkpoints load into the final model
    ckpt = dict(meta={})
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['meta']['two_stage_switched'] is False
    resumed = HOOKS.build(dict(type='TwoStageBinarizationHook', switch=3))
    resumed.after_load_checkpoint(runner, dict(meta=dict(two_stage_switched=True)))
    alpha = model[0].scaling.alpha.detach().clone()
    runner.iter = 5
    resumed.before_train_iter(runner, 0)
    assert torch.equal(model[0].scaling.alpha, alpha)  # already folded before the checkpoint


def test_errors():
    with pytest.raises(ValueError, match='switch'):
        HOOKS.build(dict(type='TwoStageBinarizationHook', switch=-2))
    with pytest.raises(ValueError, match="'step'"):
        HOOKS.build(dict(type='TwoStageBinarizationHook', by='step'))
    hook = HOOKS.build(dict(type='TwoStageBinarizationHook'))
    with pytest.raises(ValueError, match='no binary layers'):
        hook.apply(nn.Conv2d(2, 2, 3), 1)
