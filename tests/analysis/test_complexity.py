import math

import torch
from torch import nn

import plugins  # noqa: F401
from plugins.analysis import LayerCost, complexity, packed_bytes
from plugins.binary import BinaryConv2d, BinaryLinear


def test_bops_of_a_known_binary_layer_equal_hand_count():
    layer = BinaryConv2d(16, 32, 3, padding=1, stride=2, scale='learned', scale_shape='rank1',
                         bias=False)
    rep = complexity(layer, (1, 16, 10, 10))
    # output 32 x 5 x 5, each output needs 16 * 3 * 3 XNOR-popcount MACs
    assert rep.total.bops == 32 * 5 * 5 * 16 * 9
    assert rep.total.binary_params == 32 * 16 * 9
    assert rep.total.real_params == 32 + 5 + 5  # alpha, beta, gamma
    assert rep.total.flops == 32 * 5 * 5  # one multiply per output for the scale
    assert rep.packed_bytes == 4 * 42 + math.ceil(32 * 16 * 9 / 8)
    assert rep.ops == 32 * 25 + 32 * 25 * 144 / 64


def test_real_network_defaults_and_binary_mix():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, groups=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    rep = complexity(net, (2, 3, 8, 8))
    conv = 2 * 8 * 6 * 6 * 3 * 9
    assert [r.cost.flops for r in rep.rows] == [conv, 2 * 8 * 36, 0, 0, 2 * 10 * 288]
    assert rep.total.real_params == sum(p.numel() for p in net.parameters())
    lin = BinaryLinear(6, 4, scale='none', bias=False)
    assert complexity(lin, (3, 6)).total == LayerCost(0, 3 * 4 * 6, 0, 24)
    lin.binary_mix = 0.0
    assert complexity(lin, (3, 6)).total.flops == 3 * 4 * 6


def test_reused_module_and_unexecuted_params():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1, bias=False)
            self.unused = nn.Linear(3, 3)
            self.token = nn.Parameter(torch.zeros(5))

        def forward(self, x):
            return self.conv(self.conv(x))

    rep = complexity(Net(), (1, 2, 4, 4))
    conv_row = rep.rows[0]
    assert conv_row.calls == 2 and conv_row.cost.flops == 2 * 2 * 16 * 2
    assert conv_row.cost.real_params == 4
    assert rep.total.real_params == 4 + 12 + 5
    assert packed_bytes(LayerCost(0, 0, 1, 9)) == 4 + 2
    assert 'TOTAL' in rep.table()


def test_activation_factor_cost_hand_count():
    layer = BinaryConv2d(4, 8, 3, padding=1, scale='none', act_scale=True, bias=False)
    rep = complexity(layer, (1, 4, 6, 6))
    # mean_c |x| (4*36) + 3x3 box filter per position (36*9) + y * K (8*36)
    assert rep.total.flops == 4 * 36 + 36 * 9 + 8 * 36
    assert rep.total.bops == 8 * 36 * 4 * 9
