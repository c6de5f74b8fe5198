"""CP convolutions: exactness at full rank, both implementations, closed-form sizes, configs."""
import math

import pytest
import tensorly as tl
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer
from mmengine.registry import MODELS

import plugins  # noqa: F401
from plugins.tensor import CPConv, CPConv1d, CPConv2d

DENSE = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _cp_reference(layer):
    """Kernel via TensorLy's own CP reconstruction (independent of the layer's code)."""
    with tl.backend_context('pytorch'):
        return tl.cp_to_tensor((torch.ones(layer.rank), [f.detach() for f in layer.factors]))


@pytest.mark.parametrize('dim', [1, 2, 3])
def test_full_rank_reproduces_dense_conv(dim):
    torch.manual_seed(dim)
    conv = DENSE[dim](3, 5, 3, stride=2, padding=1, dilation=1)
    layer = MODELS.get(f'CPConv{dim}d').from_conv(conv, rank=3 * 3**dim)  # rank = prod/max
    x = torch.randn(2, 3, *([7] * dim))
    torch.testing.assert_close(layer(x), conv(x), atol=1e-5, rtol=1e-5)
    layer.implementation = 'reconstructed'
    torch.testing.assert_close(layer(x), conv(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('dim,stride,dilation', [(1, 1, 2), (2, 2, 1), (2, 1, 2), (3, 1, 1)])
def test_sequential_matches_reconstructed_and_reference(dim, stride, dilation):
    torch.manual_seed(0)
    layer = MODELS.get(f'CPConv{dim}d')(4, 6, 3, stride=stride, padding=dilation,
                                        dilation=dilation, rank=5)
    x = torch.randn(2, 4, *([8] * dim))
    ref = CONV[dim](x, _cp_reference(layer), layer.bias, stride=stride, padding=dilation,
                    dilation=dilation)
    torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-4)
    layer.implementation = 'reconstructed'
    torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-4)


def test_channels_last_input_and_gradients_agree():
    torch.manual_seed(0)
    seq = CPConv2d(4, 6, (3, 1), padding=(1, 0), rank=3)
    rec = CPConv2d(4, 6, (3, 1), padding=(1, 0), rank=3, implementation='reconstructed')
    rec.load_state_dict(seq.state_dict())
    x = torch.randn(2, 4, 5, 6)
    out = seq(x.contiguous(memory_format=torch.channels_last))
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, rec(x), atol=1e-5, rtol=1e-4)
    assert seq(x).is_contiguous()
    seq(x).square().sum().backward()
    rec(x).square().sum().backward()
    for a, b in zip(seq.parameters(), rec.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('shape,rank', [((8, 6, 3, 3), 7), ((16, 16, 3), 0.25),
                                        ((4, 4, 3, 3, 3), 0.5)])
def test_param_count_closed_form(shape, rank):
    layer = CPConv(shape[1], shape[0], shape[2:], rank=rank, bias=True)
    expected_rank = rank if isinstance(rank, int) else round(rank * math.prod(shape) /
                                                             sum(shape))
    assert layer.rank == expected_rank
    n = sum(p.numel() for p in layer.parameters())
    assert n == expected_rank * sum(shape) + shape[0]
    cost = layer.cost((torch.zeros(1, shape[1], *([9] * (len(shape) - 2))), ),
                      layer(torch.zeros(1, shape[1], *([9] * (len(shape) - 2)))))
    assert cost.real_params == n


def test_cost_flops_closed_form():
    layer = CPConv2d(8, 16, 3, stride=2, padding=1, rank=5)
    x = torch.zeros(2, 8, 10, 10)
    y = layer(x)
    # 1x1 in at 10x10, rank-one 3x3 depthwise and 1x1 out at 5x5
    assert layer.cost((x, ), y).flops == 2 * (100 * 8 * 5 + 25 * 5 * 9 + 25 * 5 * 16)
    layer.implementation = 'reconstructed'
    assert layer.cost((x, ), y).flops == 5 * 16 * 8 * 9 + 2 * 25 * 16 * 8 * 9


def test_builds_through_mmcv_and_round_trips_checkpoint(tmp_path):
    layer = build_conv_layer(dict(type='CPConv', rank=0.5, implementation='reconstructed'),
                             6, 4, 3, padding=1, bias=False)
    assert isinstance(layer, CPConv) and layer.dim == 2 and layer.bias is None
    layer3 = build_conv_layer(dict(type='CPConv3d', rank=3), 2, 2, 3)
    assert layer3.kernel_size == (3, 3, 3)
    path = tmp_path / 'cp.pth'
    torch.save(layer.state_dict(), path)
    other = build_conv_layer(dict(type='CPConv', rank=0.5), 6, 4, 3, padding=1, bias=False)
    other.load_state_dict(torch.load(path, weights_only=True))
    x = torch.randn(1, 6, 5, 5)
    torch.testing.assert_close(other(x), layer(x), atol=1e-5, rtol=1e-4)


def test_to_dense_and_weight_property():
    layer = CPConv1d(3, 4, 5, padding=2, rank=2)
    x = torch.randn(2, 3, 11)
    torch.testing.assert_close(layer.to_dense()(x), layer(x), atol=1e-5, rtol=1e-4)
    assert layer.weight.shape == (4, 3, 5)


@pytest.mark.parametrize('kwargs,match', [
    (dict(rank=0), 'CP rank must be >= 1, got 0'),
    (dict(rank=1.5), r'\(0, 1\], got 1.5'),
    (dict(rank='big'), "got 'big'"),
    (dict(rank=2, implementation='fast'), r"'fast'.*\['factorized', 'reconstructed'\]"),
    (dict(rank=2, kernel_size=(3, 3, 3)), r'kernel_size=\(3, 3, 3\) has 3 entries.*2-D'),
    (dict(rank=2, groups=2), 'groups=2 not supported; allowed: 1'),
])
def test_bad_arguments(kwargs, match):
    args = dict(in_channels=4, out_channels=4, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        CPConv2d(**args)


def test_bad_input_and_conv_dimension():
    layer = CPConv2d(4, 4, 3, rank=2)
    with pytest.raises(ValueError, match=r'2-D, in_channels=4.*got \(1, 4, 5, 5, 5\)'):
        layer(torch.zeros(1, 4, 5, 5, 5))
    with pytest.raises(ValueError, match='got a 3-D convolution.*allowed: a 2-D one'):
        CPConv2d.from_conv(nn.Conv3d(2, 2, 3), rank=2)
    assert CPConv.from_conv(nn.Conv3d(2, 2, 3), rank=2).dim == 3


def test_als_recovers_a_low_rank_kernel():
    torch.manual_seed(0)
    factors = [torch.randn(s, 2) for s in (6, 5, 3, 3)]
    with tl.backend_context('pytorch'):
        kernel = tl.cp_to_tensor((torch.ones(2), factors))
    conv = nn.Conv2d(5, 6, 3, bias=False)
    with torch.no_grad():
        conv.weight.copy_(kernel)
    layer = CPConv2d.from_conv(conv, rank=2)
    assert (layer.reconstruct() - kernel).norm() / kernel.norm() < 1e-3


@pytest.mark.parametrize('channels_last', [False, True])
def test_inference_path_matches_training_path(channels_last):
    """Without autograd the 1x1 steps run as bmm (with the bias fused): same numbers."""
    torch.manual_seed(0)
    layer = CPConv2d(6, 5, 3, padding=1, rank=4)
    x = torch.randn(2, 6, 7, 7)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    train_out = layer(x)
    with torch.no_grad():
        infer_out = layer(x)
        ref = F.conv2d(x, _cp_reference(layer), layer.bias, padding=1)
    torch.testing.assert_close(infer_out, train_out.detach(), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(infer_out, ref, atol=1e-5, rtol=1e-4)
