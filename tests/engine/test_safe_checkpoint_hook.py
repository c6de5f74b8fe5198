"""A job killed while saving keeps its previous checkpoint and resumes from it."""
import os
import os.path as osp

import pytest
import torch
from mmengine.fileio import LocalBackend
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset


@MODELS.register_module(force=True)
class _ToyRegressor(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.linear(inputs)
        if mode == 'loss':
            targets = torch.stack(targets) if isinstance(targets, list) else targets
            return dict(loss=((out - targets)**2).mean())
        return out


class _ToyData(Dataset):

    def __len__(self):
        return 32

    def __getitem__(self, i):
        x = torch.tensor([i / 32, 1.0])
        return dict(inputs=x, targets=x[:1] * 3)


def _runner(work_dir, max_iters, resume=False):
    return Runner(
        model=dict(type='_ToyRegressor'),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=_ToyData(), sampler=dict(type='DefaultSampler'),
                              batch_size=4, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='SafeCheckpointHook', interval=2,
                                           by_epoch=False, max_keep_ckpts=1)),
        resume=resume,
        default_scope='mmengine')


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    _runner(tmp_path, 4).train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_4.pth']

    real_put = LocalBackend.put

    def killed_while_writing(self, obj, filepath):
        real_put(self, obj[:len(obj) // 3], filepath)  # a partial file, then the kill
        raise KeyboardInterrupt

    monkeypatch.setattr(LocalBackend, 'put', killed_while_writing)
    with pytest.raises(KeyboardInterrupt):
        _runner(tmp_path, 8, resume=True).train()
    monkeypatch.setattr(LocalBackend, 'put', real_put)

    assert osp.isfile(tmp_path / 'iter_4.pth')
    assert not osp.exists(tmp_path / 'iter_6.pth')
    assert open(tmp_path / 'last_checkpoint').read() == str(tmp_path / 'iter_4.pth')

    runner = _runner(tmp_path, 8, resume=True)
    runner.train()
    assert runner.iter == 8
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_8.pth']


def test_max_keep_prunes_after_saving(tmp_path):
    _runner(tmp_path, 6).train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_6.pth']
    assert not any(f.endswith('.tmp') for f in os.listdir(tmp_path))
