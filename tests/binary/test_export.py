import torch
from torch import nn

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d, export_binary_state, materialize


def test_export_and_materialize_model():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1),
                        BinaryConv2d(4, 4, 3, padding=1, scale='learned', scale_shape='rank1',
                                     latent=dict(type='CP', rank=3)),
                        BinaryConv2d(4, 4, 3, scale='xnor', bias=False))
    x = torch.randn(1, 3, 6, 6)
    y = net(x)
    state = export_binary_state(net)
    assert list(state) == ['1', '2']
    assert state['1']['scale'].shape == (4, 6, 6) and state['2']['bias'] is None
    assert torch.equal(state['2']['weight_sign'].float(), torch.sign(net[2].weight.detach()))
    materialize(net)
    assert not any('latent' in k for k in net.state_dict())
    assert torch.allclose(net(x), y, atol=1e-5)
