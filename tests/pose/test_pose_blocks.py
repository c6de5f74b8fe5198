"""plugins/pose/{bottleneck,hpm,gated_skip,layers,registry}.py."""
import pytest
import torch

from plugins.pose import HPMBlock, PreActBottleneck, SoftGatedSkip, build_block


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def bottleneck_count(ci, c, gated=False):
    """Hand count: 1x1 (ci->m), 3x3 (m->m), 1x1 (m->c), no bias; BN (2 per channel) before
    each conv; projection = BN(ci) + 1x1 (ci->c) when ci != c; gate = c."""
    m = c // 2
    n = ci * m + 9 * m * m + m * c + 2 * (ci + m + m)
    if ci != c:
        n += 2 * ci + ci * c
    elif gated:
        n += c
    return n


def hpm_count(ci, c, gated=False):
    """Hand count: 3x3 convs ci->c/2 -> c/4 -> c/4, BN before each, projection as above."""
    w1, w2, w3 = c // 2, c // 4, c - c // 2 - c // 4
    n = 9 * (ci * w1 + w1 * w2 + w2 * w3) + 2 * (ci + w1 + w2)
    if ci != c:
        n += 2 * ci + ci * c
    elif gated:
        n += c
    return n


@pytest.mark.parametrize('ci,c', [(16, 16), (8, 32)])
@pytest.mark.parametrize('gated', [False, True])
def test_param_counts_match_hand_count(ci, c, gated):
    assert n_params(PreActBottleneck(ci, c, gated=gated)) == bottleneck_count(ci, c, gated)
    assert n_params(HPMBlock(ci, c, gated=gated)) == hpm_count(ci, c, gated)


@pytest.mark.parametrize('block', ['PreActBottleneck', 'HPMBlock'])
@pytest.mark.parametrize('ci,c', [(16, 16), (8, 32)])
def test_block_shapes_and_gradients(block, ci, c):
    m = build_block(dict(type=block), ci, c)
    x = torch.randn(2, ci, 9, 7, requires_grad=True)
    y = m(x)
    assert y.shape == (2, c, 9, 7)
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in m.parameters())


def test_hpm_concatenates_hierarchical_branches():
    m = HPMBlock(8, 16, skip='none').eval()
    x = torch.randn(1, 8, 5, 5)
    b1 = m.branches[0](x)
    b2 = m.branches[1](b1)
    b3 = m.branches[2](b2)
    assert [b.shape[1] for b in (b1, b2, b3)] == [8, 4, 4]
    torch.testing.assert_close(m(x), torch.cat([b1, b2, b3], 1))


def test_identity_skip_adds_input():
    m = HPMBlock(8, 8).eval()
    x = torch.randn(1, 8, 4, 4)
    no_skip = HPMBlock(8, 8, skip='none').eval()
    no_skip.load_state_dict(m.state_dict(), strict=False)
    torch.testing.assert_close(m(x), no_skip(x) + x)


def test_soft_gate_init_and_per_channel_shape():
    g = SoftGatedSkip(6, init=0.5)
    assert g.alpha.shape == (6,)
    assert torch.all(g.alpha == 0.5)
    with torch.no_grad():
        g.alpha.copy_(torch.arange(6.))
    x = torch.randn(2, 6, 3, 3)
    torch.testing.assert_close(g(x), x * torch.arange(6.).view(1, 6, 1, 1))
    with pytest.raises(ValueError, match='6 channels'):
        g(torch.randn(1, 5, 3, 3))


def test_gated_block_gates_identity():
    m = PreActBottleneck(8, 8, gated=True, gate_init=0.0, skip='identity').eval()
    ref = PreActBottleneck(8, 8, skip='none').eval()
    ref.load_state_dict(m.state_dict(), strict=False)
    x = torch.randn(1, 8, 4, 4)
    torch.testing.assert_close(m(x), ref(x))  # gate 0 == no skip


def test_bad_block_configs():
    with pytest.raises(KeyError, match="'NoSuchBlock'.*HPMBlock"):
        build_block(dict(type='NoSuchBlock'), 8, 8)
    with pytest.raises(ValueError, match='sum to 1'):
        HPMBlock(8, 8, ratios=(0.5, 0.25))
    with pytest.raises(ValueError, match="'skipme'.*auto"):
        HPMBlock(8, 8, skip='skipme')
    with pytest.raises(ValueError, match='in_channels == out_channels'):
        HPMBlock(4, 8, skip='identity')


@pytest.mark.parametrize('block', ['PreActBottleneck', 'HPMBlock'])
def test_binary_blocks(block, binary_conv):
    conv = binary_conv(scale='learned', scale_shape='channel')
    m = build_block(dict(type=block, conv_cfg=conv, act_cfg=None), 8, 16)
    x = torch.randn(2, 8, 8, 8, requires_grad=True)
    y = m(x)
    assert y.shape == (2, 16, 8, 8)
    y.square().mean().backward()
    assert x.grad is not None
    assert sum(type(mod).__name__ == 'BinaryConv2d' for mod in m.modules()) == 3
