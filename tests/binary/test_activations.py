import torch

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d, build_post_activation


def test_learnable_slope_matches_definition():
    act = build_post_activation(dict(type='LearnableSlope', bias=True), 2)
    with torch.no_grad():
        act.pos.copy_(torch.tensor([1.5, 2.0]))
        act.neg.copy_(torch.tensor([0.1, 0.3]))
        act.b_in.copy_(torch.tensor([0.5, -0.5]))
        act.b_out.copy_(torch.tensor([1.0, 0.0]))
    x = torch.randn(3, 2, 4)
    v = x + torch.tensor([0.5, -0.5]).view(1, 2, 1)
    pos, neg = torch.tensor([1.5, 2.0]).view(1, 2, 1), torch.tensor([0.1, 0.3]).view(1, 2, 1)
    expected = torch.where(v > 0, pos * v, neg * v) + torch.tensor([1.0, 0.0]).view(1, 2, 1)
    assert torch.allclose(act(x), expected)


def test_post_act_from_layer_config():
    for cfg, n in [(dict(type='ChannelPReLU'), 6), (dict(type='PReLU'), 6),
                   (dict(type='LearnableSlope'), 12), (None, 0)]:
        layer = BinaryConv2d(3, 6, 3, post_act=cfg)
        got = 0 if layer.post_act is None else sum(p.numel() for p in layer.post_act.parameters())
        assert got == n
    prelu = build_post_activation(dict(type='ChannelPReLU', init=0.2), 4)
    x = torch.randn(2, 4, 3, 3)
    assert torch.allclose(prelu(x), torch.where(x > 0, x, 0.2 * x))
