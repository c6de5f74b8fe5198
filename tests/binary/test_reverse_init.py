import torch
from torch import nn

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d, binarize, init_from_real


def _real():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3),
                         nn.Conv2d(4, 4, 3), nn.Conv2d(4, 2, 1))


def test_copies_weights_into_binary_and_latent_layers():
    real = _real()
    real[1].running_mean.fill_(0.3)
    torch.manual_seed(2)
    binary = binarize(_real(), dict(conv=dict(type='BinaryConv2d', scale='learned')))
    binary[3] = BinaryConv2d(4, 4, 3, latent=dict(type='SVD', rank=4))
    report = init_from_real(binary, real)
    assert torch.equal(binary[0].weight, real[0].weight)
    assert torch.equal(binary[2].weight, real[2].weight)
    assert torch.allclose(binary[3].weight, real[3].weight, atol=1e-5)  # full-rank SVD
    assert torch.equal(binary[3].bias, real[3].bias)
    assert torch.equal(binary[1].running_mean, real[1].running_mean)
    assert '3.weight' in report['copied'] and report['missing'] == []


def test_reverse_schedule_starts_from_the_real_network():
    real = _real()
    binary = binarize(_real(), dict(conv=dict(type='BinaryConv2d', scale='xnor')))
    init_from_real(binary, real.state_dict())
    for m in binary.modules():
        if isinstance(m, BinaryConv2d):
            m.binary_mix = 0.0
    real.eval(), binary.eval()
    x = torch.randn(1, 3, 9, 9)
    assert torch.allclose(binary(x), real(x), atol=1e-5)
