"""The toy Runner the engine tests share: a 2 -> 1 linear regressor trained by mmengine."""
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from mmengine.runner import Runner
from torch import nn


@MODELS.register_module(force=True)
class EngineToy(BaseModel):
    """``y = linear(x)``. Inputs (N, 2) (or a list of (2,) tensors), targets (N, 1).

    ``mode='loss'``: the mean squared error; ``'predict'``: one ``dict(err=...)`` per sample
    (its squared error); ``'tensor'``: the (N, 1) outputs.
    """

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(inputs)
        if mode == 'tensor':
            return out
        targets = torch.stack(targets) if isinstance(targets, list) else targets
        err = (out - targets)**2
        if mode == 'loss':
            return dict(loss=err.mean())
        return [dict(err=float(e.mean())) for e in err]


@pytest.fixture
def toy_runner():
    """``toy_runner(work_dir, dataset, max_iters, batch_size=4, lr=0.1, shuffle=True,
    validate=False, train_cfg=None, **runner_kwargs)``: an iteration-based mmengine Runner of
    :class:`EngineToy` on ``dataset`` (items ``dict(inputs=(2,), targets=(1,))``); with
    ``validate`` the same loader also validates (give ``val_evaluator``)."""

    def make(work_dir, dataset, max_iters, batch_size=4, lr=0.1, shuffle=True, validate=False,
             train_cfg=None, **runner_kwargs):
        loader = dict(dataset=dataset, sampler=dict(type='DefaultSampler', shuffle=shuffle),
                      batch_size=batch_size, collate_fn=dict(type='default_collate'))
        if validate:
            runner_kwargs.update(val_dataloader=loader, val_cfg=dict())
        return Runner(model=dict(type='EngineToy'), work_dir=str(work_dir),
                      train_dataloader=loader,
                      optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr)),
                      train_cfg=dict(by_epoch=False, max_iters=max_iters, **(train_cfg or {})),
                      default_scope='mmengine', **runner_kwargs)

    return make
