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


def _hourglass_like(num_stacks=3):
    """The module layout of plugins.pose.StackedHourglass (stem, per-stack lists, merges)."""
    model = nn.Module()
    model.backbone = nn.Module()
    model.backbone.stem = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))
    for name in ('hourglasses', 'features', 'heatmaps'):
        setattr(model.backbone, name, nn.ModuleList(
            nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)) for _ in range(num_stacks)))
    for name in ('merge_features', 'merge_heatmaps'):
        setattr(model.backbone, name,
                nn.ModuleList(nn.Conv2d(2, 2, 1) for _ in range(num_stacks - 1)))
    model.head = SimpleNamespace(stack_weights=[1.0, 0.5, 2.0][:num_stacks])
    return model


def _hook(**kw):
    cfg = dict(type='StackFreezeHook', num_stacks=3, by='iter',
               templates=['backbone.hourglasses.{k}', 'backbone.features.{k}',
                          'backbone.heatmaps.{k}', 'backbone.merge_*.{prev}'],
               stem=['backbone.stem'], init_from_previous=True, mask_later_losses=True)
    cfg.update(kw)
    return HOOKS.build(cfg)


def test_hourglass_stacking_copies_freezes_stem_and_masks_losses():
    model = _hourglass_like(3)
    hook = _hook()
    runner = SimpleNamespace(model=model, iter=0, max_iters=9)
    hook.before_train_iter(runner, 0)  # default milestones: 0, 1/3, 2/3 of the run -> 0, 3, 6
    bb = model.backbone
    assert model.head.stack_weights == [1.0, 0.0, 0.0]
    assert all(p.requires_grad for p in bb.stem.parameters())
    assert not any(p.requires_grad for p in bb.hourglasses[1].parameters())
    assert not bb.merge_features[0].weight.requires_grad  # feeds stack 1: trains with it
    with torch.no_grad():
        for p in bb.hourglasses[0].parameters():
            p.add_(1.0)
    w0 = bb.hourglasses[0][0].weight.detach().clone()
    assert not torch.equal(bb.hourglasses[1][0].weight, w0)
    runner.iter = 3
    hook.before_train_iter(runner, 0)
    assert model.head.stack_weights == [1.0, 0.5, 0.0]
    for name in ('hourglasses', 'features', 'heatmaps'):  # stack 1 starts as stack 0
        src, dst = getattr(bb, name)[0], getattr(bb, name)[1]
        for a, b in zip(src.state_dict().values(), dst.state_dict().values()):
            assert torch.equal(a, b)
    assert not any(p.requires_grad for p in bb.stem.parameters())
    assert not bb.stem[1].training and not bb.hourglasses[0][1].training
    assert bb.merge_features[0].weight.requires_grad and bb.merge_heatmaps[0].weight.requires_grad
    assert not bb.merge_features[1].weight.requires_grad
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['meta']['stack_freeze_copied'] == [1]
    # a resumed run in stage 1 does not copy stack 0 over the trained stack 1 again
    with torch.no_grad():
        bb.hourglasses[1][0].weight.add_(5.0)
    trained = bb.hourglasses[1][0].weight.detach().clone()
    model.head.stack_weights = [1.0, 0.5, 2.0]  # as a freshly built model has them
    resumed = _hook()
    resumed.after_load_checkpoint(runner, ckpt)
    resumed.before_train_iter(runner, 0)
    assert torch.equal(bb.hourglasses[1][0].weight, trained)
    runner.iter = 7
    resumed.before_train_iter(runner, 0)
    assert model.head.stack_weights == [1.0, 0.5, 2.0]
    assert torch.equal(bb.hourglasses[2][0].weight, trained)


def test_mask_later_losses_needs_stack_weights():
    model = _hourglass_like(3)
    model.head = SimpleNamespace()
    with pytest.raises(ValueError, match='stack_weights'):
        _hook().apply(model, 0, [0, 3, 6])
