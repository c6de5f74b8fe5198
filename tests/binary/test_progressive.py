from types import SimpleNamespace

import pytest
from torch import nn

import plugins  # noqa: F401
from mmengine.registry import HOOKS
from plugins.binary import BinaryConv2d, binary_fraction


def _model(n=4):
    return nn.Sequential(*[BinaryConv2d(2, 2, 3, padding=1) for _ in range(n)])


def test_layer_mode_fraction_follows_schedule_in_reverse_order():
    model = _model(4)
    hook = HOOKS.build(dict(type='ProgressiveBinarizationHook', begin=10, end=50, by='iter',
                            mode='layer', order='reverse'))
    seen = {}
    for it in [0, 10, 20, 30, 40, 50, 60]:
        hook.before_train_iter(SimpleNamespace(model=model, iter=it, epoch=0), 0)
        seen[it] = binary_fraction(model)
    assert seen == {0: 0.0, 10: 0.0, 20: 0.25, 30: 0.5, 40: 0.75, 50: 1.0, 60: 1.0}
    hook.before_train_iter(SimpleNamespace(model=model, iter=20, epoch=0), 0)
    assert [m.binary_mix for m in model] == [0.0, 0.0, 0.0, 1.0]  # last layer first


def test_mix_mode_and_epoch_unit():
    model = _model(2)
    hook = HOOKS.build(dict(type='ProgressiveBinarizationHook', begin=0, end=4, by='epoch',
                            mode='mix', order='forward'))
    hook.before_train_iter(SimpleNamespace(model=model, iter=999, epoch=1), 0)
    assert [m.binary_mix for m in model] == [0.25, 0.25]


def test_bad_options():
    with pytest.raises(ValueError, match="'fast'.*layer"):
        HOOKS.build(dict(type='ProgressiveBinarizationHook', mode='fast'))
    hook = HOOKS.build(dict(type='ProgressiveBinarizationHook', patterns=['head.*']))
    with pytest.raises(ValueError, match="'head.*'"):
        hook.apply(_model(2), 0)


def test_with_a_tiny_runner(tmp_path):
    import torch
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Tiny(BaseModel):
        def __init__(self):
            super().__init__()
            self.convs = _model(2)

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = self.convs(inputs).mean()
            return dict(loss=out) if mode == 'loss' else out

    data = [dict(inputs=torch.randn(2, 5, 5)) for _ in range(4)]
    runner = Runner(model=Tiny(), work_dir=str(tmp_path),
                    train_dataloader=dict(dataset=data, batch_size=2, sampler=dict(
                        type='DefaultSampler', shuffle=False), collate_fn=dict(
                            type='default_collate')),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
                    train_cfg=dict(by_epoch=False, max_iters=3),
                    custom_hooks=[dict(type='ProgressiveBinarizationHook', begin=0, end=2)],
                    default_hooks=dict(logger=None, checkpoint=None), log_level='ERROR')
    runner.train()
    assert binary_fraction(runner.model) == 1.0
