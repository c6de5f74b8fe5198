"""T-Net's slice-to-conv mapping: the conv that runs as layer (stack s, depth d, block b,
conv c) uses the slice W[s, d, b, c] of the full 8th-order tensor, rebuilt independently by
TensorLy (numpy) from the Tucker core and factors, in the order the hourglass visits them."""
import numpy as np
import pytest
import tensorly as tl
import torch

import plugins  # noqa: F401
from plugins.tensor import TNet

SKIP, DOWN, UP = 0, 1, 2


def _visit_order(stacks, depth, convs):
    """(s, d, b, c) of every tensor conv in call order, from the architecture: level d runs
    its skip block, its down block, level d + 1 (if any), then its up block."""
    order = []

    def level(s, d):
        for b in (SKIP, DOWN):
            order.extend((s, d, b, c) for c in range(convs))
        if d < depth - 1:
            level(s, d + 1)
        order.extend((s, d, UP, c) for c in range(convs))

    for s in range(stacks):
        level(s, 0)
    return order


def _full_tensor(net):
    t = net.weight_tensor
    if t.ranks is None:
        return t.full.detach().numpy()
    with tl.backend_context('numpy'):
        return tl.tucker_to_tensor((t.core.detach().numpy(),
                                    [f.detach().numpy() for f in t.factors]))


@pytest.mark.parametrize('kw', [
    dict(num_stacks=2, depth=3, convs_per_block=2, ranks=(2, 3, 3, 2, 5, 6, 3, 2)),
    dict(num_stacks=3, depth=2, convs_per_block=1, compression=None)])
def test_each_conv_uses_its_slice_of_the_full_tensor(kw):
    torch.manual_seed(0)
    net = TNet(channels=6, out_channels=3, stem_channels=4, **kw).eval()
    used = []
    net.conv.register_forward_hook(lambda m, inputs, out: used.append(inputs[1].detach()))
    with torch.no_grad():
        net(torch.randn(1, 3, 4 * 2**kw['depth'], 4 * 2**kw['depth']))
    order = _visit_order(kw['num_stacks'], kw['depth'], kw['convs_per_block'])
    assert len(used) == len(order) == np.prod(net.weight_tensor.shape[:4])
    full = _full_tensor(net)  # (stacks, depth, blocks, convs, in, out, kh, kw)
    for (s, d, b, c), weight in zip(order, used):
        expected = full[s, d, b, c].transpose(1, 0, 2, 3)  # conv weight is (out, in, kh, kw)
        np.testing.assert_allclose(weight.numpy(), expected, rtol=1e-4, atol=1e-5,
                                   err_msg=f'slice (stack {s}, depth {d}, block {b}, conv {c})')
    # and the slices differ: a mapping that reused one slice would not pass the loop above
    assert len({w.numpy().tobytes() for w in used}) == len(used)
