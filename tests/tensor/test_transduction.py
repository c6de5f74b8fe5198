"""2-D -> 3-D transduction: single CP convs, whole CP/Tucker networks, the freeze hook."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

import plugins  # noqa: F401
from plugins.tensor import (CPConv2d, CPConv3d, FreezeSpatialFactorsHook, TuckerConv2d,
                            TuckerConv3d, spatial_parameter_names, transduce,
                            transduce_cp_conv)


@pytest.mark.parametrize('implementation', ['factorized', 'reconstructed'])
def test_identical_frames_give_2d_output_times_temporal_sum(implementation):
    torch.manual_seed(0)
    conv2d = CPConv2d(3, 5, 3, padding=1, stride=2, rank=4, implementation=implementation)
    temporal = torch.tensor([0.5, -1.0, 2.0])
    conv3d = transduce_cp_conv(conv2d, kernel_t=3, temporal=temporal, padding_t=0)
    assert isinstance(conv3d, CPConv3d) and conv3d.kernel_size == (3, 3, 3)
    frame = torch.randn(2, 3, 9, 9)
    video = frame[:, :, None].expand(2, 3, 6, 9, 9)
    bias = conv2d.bias.view(1, -1, 1, 1)
    expected = (conv2d(frame) - bias) * temporal.sum() + bias
    out = conv3d(video)
    assert out.shape == (2, 5, 4, 5, 5)
    for t in range(out.shape[2]):
        torch.testing.assert_close(out[:, :, t], expected, atol=1e-5, rtol=1e-4)


def test_delta_init_is_framewise_2d_conv():
    torch.manual_seed(1)
    conv2d = CPConv2d(3, 4, 3, padding=1, rank=3)
    conv3d = transduce_cp_conv(conv2d, kernel_t=3)  # 'delta', same temporal padding
    video = torch.randn(1, 3, 4, 6, 6)
    out = conv3d(video)
    for t in range(4):
        torch.testing.assert_close(out[:, :, t], conv2d(video[:, :, t]), atol=1e-5, rtol=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match="unknown temporal init 'zeros'"):
        transduce_cp_conv(CPConv2d(2, 2, 3, rank=2), temporal='zeros')
    with pytest.raises(ValueError, match=r'temporal factor of shape \(2,\); allowed: \(3,\)'):
        transduce_cp_conv(CPConv2d(2, 2, 3, rank=2), temporal=torch.ones(2))
    with pytest.raises(ValueError, match='needs a 2-D CPConv, got TuckerConv2d'):
        transduce_cp_conv(TuckerConv2d(2, 2, 3, rank=2))


# -- whole networks ------------------------------------------------------------------------


class Block(nn.Module):
    """Residual block whose forward uses dimension-agnostic functions only."""

    def __init__(self, c, conv_type):
        super().__init__()
        self.conv1 = conv_type(c, c, 3, padding=1, rank=3, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = conv_type(c, c, 3, padding=1, rank=(3, 3, 2, 3) if conv_type is
                               TuckerConv2d else 3)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


def small_net():
    net = nn.Sequential(
        nn.Conv2d(2, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.MaxPool2d(2), Block(6, CPConv2d), Block(6, TuckerConv2d),
        nn.Sequential(CPConv2d(6, 4, 1, rank=2), nn.AvgPool2d(2)), nn.AdaptiveAvgPool2d(1))
    # non-trivial BN statistics and affine parameters, as after training
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net


def test_transduced_network_is_the_2d_network_frame_by_frame():
    torch.manual_seed(0)
    net2d = small_net().eval()
    net3d = transduce(net2d, temporal_kernel=3).eval()
    assert isinstance(net3d[4].conv1, CPConv3d) and net3d[4].conv1.kernel_size == (3, 3, 3)
    assert isinstance(net3d[5].conv2, TuckerConv3d) and net3d[5].conv2.rank == (3, 3, 1, 2, 3)
    assert net3d[6][0].kernel_size == (1, 1, 1)  # 1x1 convs stay frame-wise
    assert isinstance(net3d[0], nn.Conv3d) and net3d[0].kernel_size == (3, 3, 3)
    assert isinstance(net2d[4].conv1, CPConv2d)  # the 2-D network is left as it was
    clip = torch.randn(2, 2, 5, 16, 16)  # (N, C, T, H, W), frames all different
    out = net3d(clip)
    assert out.shape == (2, 4, 5, 1, 1)
    for t in range(5):
        torch.testing.assert_close(out[:, :, t], net2d(clip[:, :, t]), atol=1e-5, rtol=1e-4)


def test_static_clip_output_equivalence_in_training_mode():
    """On a clip of one repeated frame the batch statistics are those of the frame."""
    torch.manual_seed(1)
    net2d = small_net().train()
    net3d = transduce(net2d, temporal_kernel=3, temporal_rank=2).train()
    frame = torch.randn(3, 2, 16, 16)
    out = net3d(frame[:, :, None].expand(3, 2, 4, 16, 16).contiguous())
    ref = net2d(frame)
    for t in range(4):
        torch.testing.assert_close(out[:, :, t], ref, atol=1e-4, rtol=1e-4)


def test_transduce_errors():
    with pytest.raises(ValueError, match=r"no 3-D version for \['1 \(Dropout2d\)'\]"):
        transduce(nn.Sequential(CPConv2d(2, 2, 3, rank=2), nn.Dropout2d()))
    with pytest.raises(ValueError, match='has no module to transduce'):
        transduce(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match=r'temporal_rank must be in \[1, kernel_t=3\]'):
        transduce(nn.Sequential(TuckerConv2d(2, 2, 3, rank=2)), temporal_rank=4)
    with pytest.raises(ValueError, match='run plugins.tensor.transduce first'):
        spatial_parameter_names(nn.Sequential(CPConv2d(2, 2, 3, rank=2)))


# -- the freeze hook in an mmengine Runner -------------------------------------------------


class ClipRegressor(BaseModel):

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = transduce(small_net(), temporal_kernel=3)
        self.head = nn.Linear(4, 1)

    def forward(self, inputs, target=None, mode='loss'):
        inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
        pred = self.head(self.net(inputs).mean((2, 3, 4)))
        target = torch.stack(target) if isinstance(target, list) else target
        return dict(loss=F.mse_loss(pred[:, 0], target))


class Snapshot(Hook):
    priority = 'LOWEST'

    def __init__(self, names):
        self.names, self.values = names, []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        params = dict(runner.model.named_parameters())
        self.values.append({n: params[n].detach().clone() for n in self.names})


def test_freeze_hook_fixes_spatial_factors_then_releases_them(tmp_path):
    torch.manual_seed(0)
    data = [dict(inputs=torch.randn(2, 4, 16, 16), target=torch.randn(())) for _ in range(8)]
    model = ClipRegressor()
    spatial = spatial_parameter_names(model)
    assert 'net.4.conv1.factor_in' in spatial and 'net.4.conv1.factors_kernel.0' not in spatial
    assert 'net.5.conv1.core' in spatial and 'net.5.conv1.factors.2' not in spatial
    assert 'net.0.weight' in spatial and 'net.1.weight' not in spatial  # BN stays trainable
    watch = ['net.4.conv1.factor_in', 'net.5.conv1.core', 'net.0.weight',
             'net.4.conv1.factors_kernel.0', 'net.5.conv1.factors.2', 'head.weight']
    snap = Snapshot(watch)
    start = {n: p.detach().clone() for n, p in model.named_parameters() if n in watch}
    runner = Runner(model=model, work_dir=str(tmp_path),
                    train_dataloader=dict(dataset=data, batch_size=4,
                                          sampler=dict(type='DefaultSampler', shuffle=True),
                                          collate_fn=dict(type='default_collate')),
                    train_cfg=dict(by_epoch=False, max_iters=6),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                    custom_hooks=[dict(type='FreezeSpatialFactorsHook', iters=3), snap],
                    default_hooks=dict(checkpoint=None, logger=None), log_level='ERROR')
    runner.train()
    frozen_phase, free_phase = snap.values[2], snap.values[5]
    for name in watch[:3]:  # spatial: unchanged for 3 iterations, then trained
        torch.testing.assert_close(frozen_phase[name], start[name], rtol=0, atol=0)
        assert not torch.equal(free_phase[name], frozen_phase[name]), name
    for name in watch[3:]:  # temporal factors and non-transduced layers train from the start
        assert not torch.equal(frozen_phase[name], start[name]), name
    assert all(p.requires_grad for p in model.parameters())


def test_freeze_hook_arguments():
    with pytest.raises(ValueError, match='iters must be an int >= 0, got -1'):
        FreezeSpatialFactorsHook(iters=-1)
