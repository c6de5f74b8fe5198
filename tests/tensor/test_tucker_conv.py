"""Tucker convolutions: exactness at full rank, both implementations, sizes, configs."""
import math

import pytest
import tensorly as tl
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer
from mmengine.registry import MODELS

import plugins  # noqa: F401
from plugins.tensor import TuckerConv, TuckerConv2d, tucker_ranks

DENSE = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@pytest.mark.parametrize('dim', [1, 2, 3])
def test_full_rank_reproduces_dense_conv(dim):
    torch.manual_seed(dim)
    conv = DENSE[dim](3, 5, 3, stride=2, padding=1)
    layer = MODELS.get(f'TuckerConv{dim}d').from_conv(conv, rank=(5, 3) + (3, ) * dim)
    x = torch.randn(2, 3, *([7] * dim))
    torch.testing.assert_close(layer(x), conv(x), atol=1e-5, rtol=1e-4)
    layer.implementation = 'reconstructed'
    torch.testing.assert_close(layer(x), conv(x), atol=1e-5, rtol=1e-4)


def test_low_rank_decomposition_error_decreases_with_rank():
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 8, 3)
    errors = [(TuckerConv.from_conv(conv, rank=r).reconstruct() - conv.weight).norm().item()
              for r in (2, 4, 8)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-4


@pytest.mark.parametrize('dim', [1, 2, 3])
def test_sequential_matches_tensorly_reference(dim):
    torch.manual_seed(0)
    layer = MODELS.get(f'TuckerConv{dim}d')(4, 6, 3, stride=2, padding=1,
                                            rank=(3, 2) + (2, ) * dim)
    x = torch.randn(2, 4, *([6] * dim))
    with tl.backend_context('pytorch'):
        kernel = tl.tucker_to_tensor((layer.core.detach(), [f.detach() for f in layer.factors]))
    ref = CONV[dim](x, kernel, layer.bias, stride=2, padding=1)
    torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-4)
    layer.implementation = 'reconstructed'
    torch.testing.assert_close(layer(x), ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('rank', [3, 0.3, (4, 2, 2, 3)])
def test_param_count_closed_form(rank):
    layer = TuckerConv2d(6, 8, 3, rank=rank)
    ranks = layer.rank
    shape = (8, 6, 3, 3)
    assert sum(p.numel() for p in layer.parameters()) == (math.prod(ranks) + sum(
        s * r for s, r in zip(shape, ranks)) + 8)
    if isinstance(rank, float):  # the ratio is respected
        assert math.prod(ranks) + sum(s * r for s, r in zip(shape, ranks)) <= 0.3 * 432


def test_builds_through_mmcv_and_round_trips_checkpoint(tmp_path):
    layer = build_conv_layer(dict(type='TuckerConv', rank=0.5), 6, 6, 3, padding=1)
    path = tmp_path / 'tucker.pth'
    torch.save(layer.state_dict(), path)
    other = build_conv_layer(dict(type='TuckerConv', rank=0.5), 6, 6, 3, padding=1)
    other.load_state_dict(torch.load(path, weights_only=True))
    x = torch.randn(1, 6, 5, 5)
    torch.testing.assert_close(other(x), layer(x))


@pytest.mark.parametrize('rank,match', [
    ((9, 2, 3, 3), r'Tucker rank 9 out of range for a mode of size 8: allowed 1..8'),
    ((2, 2, 3), r'must have one entry per mode.*\(4 entries\)'),
    (0, 'Tucker rank must be >= 1, got 0'),
    (0.0, r'\(0, 1\], got 0.0'),
])
def test_bad_ranks(rank, match):
    with pytest.raises(ValueError, match=match):
        TuckerConv2d(6, 8, 3, rank=rank)


def test_rank_resolution():
    assert tucker_ranks(4, (8, 6, 3, 3)) == (4, 4, 3, 3)
    assert tucker_ranks(100, (8, 6, 3)) == (8, 6, 3)
