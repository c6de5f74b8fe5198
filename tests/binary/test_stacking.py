from types import SimpleNamespace

import pytest
import torch
from torch import nn

import plugins  # noqa: F401
from mmengine.registry import HOOKS
from plugins.binary import copy_stack


class Stacked(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.stacks = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(2, 2, 3), nn.BatchNorm2d(2)) for _ in range(3)])


def _trainable(model, k):
    return all(p.requires_grad for p in model.backbone.stacks[k].parameters())


def test_stages_freeze_earlier_and_later():
    model = Stacked()
    hook = HOOKS.build(dict(type='StackFreezeHook', stacks=[f'backbone.stacks.{i}' for i in
                                                           range(3)], milestones=[0, 2, 4]))
    for epoch, expected in [(0, [1, 0, 0]), (2, [0, 1, 0]), (5, [0, 0, 1])]:
        model.train()
        hook.before_train_iter(SimpleNamespace(model=model, epoch=epoch, iter=0), 0)
        assert [int(_trainable(model, k)) for k in range(3)] == expected
        assert [int(model.backbone.stacks[k][1].training) for k in range(3)] == expected


def test_joint_training_of_earlier_stacks():
    model = Stacked()
    hook = HOOKS.build(dict(type='StackFreezeHook', stacks=['backbone.stacks.0',
                                                           'backbone.stacks.1'],
                            milestones=[0, 3], freeze_earlier=False))
    hook.apply(model, 3)
    assert _trainable(model, 0) and _trainable(model, 1) and _trainable(model, 2)


def test_errors_and_copy_stack():
    hook = HOOKS.build(dict(type='StackFreezeHook', stacks=['backbone.hg.0']))
    with pytest.raises(ValueError, match='backbone.hg.0'):
        hook.apply(Stacked(), 0)
    model = Stacked()
    assert copy_stack(model, 'backbone.stacks.0', 'backbone.stacks.1') == 7
    assert torch.equal(model.backbone.stacks[1][0].weight, model.backbone.stacks[0][0].weight)


def test_templates_for_multi_module_stacks():
    model = nn.Module()
    model.backbone = nn.Module()
    model.backbone.hourglasses = nn.ModuleList([nn.Conv2d(2, 2, 1) for _ in range(2)])
    model.backbone.merge_features = nn.ModuleList([nn.Conv2d(2, 2, 1) for _ in range(2)])
    hook = HOOKS.build(dict(type='StackFreezeHook', num_stacks=2, milestones=[0, 5],
                            templates=['backbone.hourglasses.{k}', 'backbone.merge_*.{k}']))
    hook.apply(model, 5)
    assert not model.backbone.hourglasses[0].weight.requires_grad
    assert not model.backbone.merge_features[0].weight.requires_grad
    assert model.backbone.hourglasses[1].weight.requires_grad
    assert model.backbone.merge_features[1].weight.requires_grad
