"""RealToBinaryInitHook (plugins/binary/reverse_init.py) inside an mmengine Runner: before
training, the binary network takes the real checkpoint's weights (binary convs through their
real weight); when resuming, the resumed checkpoint wins and the real one is not applied."""
import torch
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d, binarize


def _body():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                         nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1),
                         nn.Conv2d(4, 2, 1))


@MODELS.register_module(force=True)
class _R2BNet(BaseModel):

    def __init__(self, binary: bool = True):
        super().__init__()
        self.body = _body()
        if binary:  # first and last convs stay real (the converter's default)
            binarize(self.body, dict(conv=dict(type='BinaryConv2d', scale='learned')))

    def forward(self, inputs, mode='tensor'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        out = self.body(inputs)
        return dict(loss=out.square().mean()) if mode == 'loss' else out


class _Images(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.randn(3, 6, 6, generator=torch.Generator().manual_seed(i)))


def _runner(work_dir, ckpt, max_iters, lr, resume=False):
    return Runner(
        model=dict(type='_R2BNet'), work_dir=str(work_dir),
        train_dataloader=dict(dataset=_Images(), sampler=dict(type='DefaultSampler'),
                              batch_size=4, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False)),
        custom_hooks=[dict(type='RealToBinaryInitHook', checkpoint=str(ckpt))],
        resume=resume, randomness=dict(seed=7), default_scope='mmengine')


def _real_checkpoint(path):
    torch.manual_seed(1)
    real = _R2BNet(binary=False)
    real.body[1].running_mean.uniform_(0.5, 1.0)
    torch.save(dict(state_dict=real.state_dict()), path)
    return real.state_dict()


def test_binary_network_starts_from_the_real_checkpoint(tmp_path):
    real = _real_checkpoint(tmp_path / 'real.pth')
    runner = _runner(tmp_path / 'work', tmp_path / 'real.pth', max_iters=1, lr=0.0)
    net = runner.model.body
    assert isinstance(net[2], BinaryConv2d) and isinstance(net[3], BinaryConv2d)
    assert not torch.equal(net[2].weight, real['body.2.weight'])  # its own init before
    runner.train()  # lr 0: after one iteration the parameters are what the hook set
    for i in (0, 2, 3, 4):  # real first/last convs and binary convs' real weights
        torch.testing.assert_close(net[i].weight, real[f'body.{i}.weight'], rtol=0, atol=0)
        torch.testing.assert_close(net[i].bias, real[f'body.{i}.bias'], rtol=0, atol=0)
    torch.testing.assert_close(net[1].weight, real['body.1.weight'], rtol=0, atol=0)


def test_resume_keeps_the_resumed_weights(tmp_path):
    _real_checkpoint(tmp_path / 'real.pth')
    work = tmp_path / 'work'
    _runner(work, tmp_path / 'real.pth', max_iters=2, lr=0.5).train()  # moves off the init
    trained = torch.load(work / 'iter_2.pth', map_location='cpu',
                         weights_only=True)['state_dict']
    real = torch.load(tmp_path / 'real.pth', weights_only=True)['state_dict']
    assert (trained['body.2.weight'] - real['body.2.weight']).abs().max() > 1e-3
    # resumed at iteration 2 of 2: no step runs, but before_train hooks do
    runner = _runner(work, tmp_path / 'real.pth', max_iters=2, lr=0.5, resume=True)
    runner.train()
    for key in ('body.0.weight', 'body.2.weight', 'body.3.weight'):
        torch.testing.assert_close(runner.model.state_dict()[key], trained[key], rtol=0, atol=0)
