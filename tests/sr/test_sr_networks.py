"""Shapes, noise input, spectral norm and losses of plugins/sr networks."""
import pytest
import torch
from mmengine.registry import MODELS

import plugins  # noqa: F401
from plugins.sr import (HingeGANLoss, HighToLowGenerator, LowToHighGenerator, SRDiscriminator,
                        add_spectral_norm)
from plugins.sr.spectral_norm import has_spectral_norm

torch.set_num_threads(1)


def test_high_to_low_shapes_and_paper_layout():
    g = MODELS.build(dict(type='HighToLowGenerator', channels=8, noise_dim=16))
    out = g(torch.rand(2, 3, 64, 64) * 2 - 1, torch.randn(2, 16))
    assert out.shape == (2, 3, 16, 16)
    assert g.scale == 4
    blocks = [m for m in g.modules() if type(m).__name__ == 'PreActResidualBlock']
    assert len(blocks) == 12  # the paper's 12 blocks in 6 groups of 2
    assert sum(isinstance(m, torch.nn.AvgPool2d) for m in g.modules()) == 4
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in g.modules()) == 2


def test_noise_changes_high_to_low_output():
    torch.manual_seed(0)
    g = HighToLowGenerator(channels=8, noise_dim=16, blocks_per_group=1).eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    z1, z2 = torch.randn(2, 16), torch.randn(2, 16)
    a, b = g(x, z1), g(x, z2)
    assert (a - b).abs().max() > 1e-4
    assert torch.equal(g(x, z1), a)  # deterministic for a fixed z in eval mode


def test_low_to_high_shapes_any_size():
    g = MODELS.build(dict(type='LowToHighGenerator', channels=8, blocks_per_group=(1, 1, 1)))
    assert g(torch.rand(2, 3, 16, 16)).shape == (2, 3, 64, 64)
    assert g(torch.rand(1, 3, 10, 12)).shape == (1, 3, 40, 48)  # fully convolutional
    g8 = LowToHighGenerator(channels=8, scale=8, blocks_per_group=(1, 1, 1, 0), bicubic_skip=True)
    assert g8(torch.rand(1, 3, 8, 8)).shape == (1, 3, 64, 64)


@pytest.mark.parametrize('size,pools', [(16, 2), (64, 4)])
def test_discriminator_shapes_and_spectral_norm(size, pools):
    d = MODELS.build(dict(type='SRDiscriminator', in_size=size, channels=8))
    assert d(torch.rand(3, 3, size, size)).shape == (3, )
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in d.modules()) == pools
    layers = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(has_spectral_norm(m) for m in layers)


def test_spectral_norm_bounds_largest_singular_value():
    torch.manual_seed(0)
    lin = add_spectral_norm(torch.nn.Sequential(torch.nn.Linear(20, 10)), n_power_iterations=30)
    lin.train()
    lin(torch.randn(4, 20))  # power iterations
    lin.eval()
    sigma = torch.linalg.matrix_norm(lin[0].weight.detach(), ord=2)
    assert sigma == pytest.approx(1.0, abs=1e-3)


def test_hinge_loss_hand_values():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    loss = HingeGANLoss()
    # D: mean(relu(1-real)) + mean(relu(1+fake)) = (0 + 0.5)/2 + (0 + 1)/2
    assert loss(fake, real).item() == pytest.approx(0.75)
    assert loss(fake).item() == pytest.approx(1.0)  # G: -mean(fake)


@pytest.mark.parametrize('bad', [
    dict(type='HighToLowGenerator', in_size=60),
    dict(type='HighToLowGenerator', num_down=2, num_up=3),
    dict(type='LowToHighGenerator', scale=3),
    dict(type='LowToHighGenerator', scale=4, blocks_per_group=(1, 1)),
    dict(type='SRDiscriminator', in_size=16, num_pools=5),
])
def test_bad_network_configs(bad):
    with pytest.raises(ValueError):
        MODELS.build(bad)


def test_wrong_input_sizes_are_named():
    g = HighToLowGenerator(channels=8, noise_dim=4, blocks_per_group=1)
    with pytest.raises(ValueError, match='64'):
        g(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match='noise'):
        g(torch.rand(1, 3, 64, 64), torch.randn(1, 5))
    with pytest.raises(ValueError, match='16'):
        SRDiscriminator(16, channels=8)(torch.rand(1, 3, 64, 64))


def test_global_skips_reduce_to_pooling_and_bicubic():
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    g = HighToLowGenerator(channels=4, noise_dim=4, blocks_per_group=1, pooled_skip=True)
    torch.nn.init.zeros_(g.conv_out[1].weight)
    torch.nn.init.zeros_(g.conv_out[1].bias)
    assert torch.allclose(g(x), torch.nn.functional.avg_pool2d(x, 4))
    up = LowToHighGenerator(channels=4, blocks_per_group=(1, 0, 0), bicubic_skip=True)
    torch.nn.init.zeros_(up.body[-1].weight)
    torch.nn.init.zeros_(up.body[-1].bias)
    lr = torch.rand(1, 3, 8, 8)
    expected = torch.nn.functional.interpolate(lr, scale_factor=4, mode='bicubic')
    assert torch.allclose(up(lr), expected, atol=1e-6)
