"""T-Net: tensor shapes, parameter counts from the ranks, MMPose build, checkpoints, errors."""
import math

import pytest
import tensorly as tl
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

import plugins  # noqa: F401
from plugins.tensor import TNet, tnet_ranks

SMALL = dict(num_stacks=2, depth=2, channels=8, out_channels=3, stem_channels=4)


def test_reconstructed_weights_have_the_hourglass_shapes():
    net = TNet(**SMALL, ranks=(2, 2, 3, 1, 4, 5, 3, 2))
    weights = net.conv_weights()
    assert weights.shape == (2, 2, 3, 2, 8, 8, 3, 3)  # (stacks, depth, blocks, convs, out, in)
    with tl.backend_context('pytorch'):
        full = tl.tucker_to_tensor((net.weight_tensor.core.detach(),
                                    [f.detach() for f in net.weight_tensor.factors]))
    torch.testing.assert_close(weights.detach(), full.transpose(4, 5))
    # every conv of the hourglass runs with its slice (no shape error at any level)
    outs = net(torch.randn(2, 3, 32, 32))
    assert len(outs) == 2 and all(o.shape == (2, 3, 8, 8) for o in outs)


@pytest.mark.parametrize('ranks', [(2, 2, 3, 2, 8, 8, 3, 3), (1, 2, 2, 1, 3, 4, 2, 3)])
def test_param_count_follows_ranks(ranks):
    net = TNet(**SMALL, ranks=ranks)
    shape = (2, 2, 3, 2, 8, 8, 3, 3)
    assert net.tensor_params() == math.prod(ranks) + sum(s * r for s, r in zip(shape, ranks))


def test_compression_ratio_and_dense_baseline():
    shape = (2, 2, 3, 2, 8, 8, 3, 3)
    dense = TNet(**SMALL, compression=None)
    assert dense.ranks is None and dense.tensor_params() == math.prod(shape)
    for ratio in (0.5, 0.2):
        net = TNet(**SMALL, compression=ratio, rank_scheme='in_out')
        assert net.tensor_params() <= ratio * math.prod(shape)
        assert net.ranks[:4] == shape[:4] and net.ranks[6:] == shape[6:]
        # others params (stem, norms, heads) are the same as the dense baseline
        other = sum(p.numel() for p in net.parameters()) - net.tensor_params()
        assert other == sum(p.numel() for p in dense.parameters()) - dense.tensor_params()
    assert tnet_ranks(shape, 0.2, ('in', 'out', 'stacks'))[0] <= 2


def brute_force_best(shape, budget, modes):
    """Largest Tucker parameter count <= budget over every rank tuple (reference)."""
    import itertools
    grids = [range(1, s + 1) if i in modes else [s] for i, s in enumerate(shape)]
    best = 0
    for ranks in itertools.product(*grids):
        n = math.prod(ranks) + sum(s * r for s, r in zip(shape, ranks))
        if n <= budget:
            best = max(best, n)
    return best


@pytest.mark.parametrize('ratio', [0.5, 0.2, 0.08])
def test_all_modes_scheme_compresses_every_mode_and_fills_the_budget(ratio):
    shape = (2, 2, 3, 2, 8, 8, 3, 3)
    net = TNet(**SMALL, compression=ratio)  # default: rank_scheme='all_modes'
    params = net.tensor_params()
    assert params == math.prod(net.ranks) + sum(s * r for s, r in zip(shape, net.ranks))
    assert params <= ratio * math.prod(shape)
    # the greedy fill gets within 15 % of the best rank tuple found by enumeration
    best = brute_force_best(shape, ratio * math.prod(shape), range(8))
    assert params >= 0.85 * best
    # the channel-only scheme at the same ratio keeps all other modes at full rank
    legacy = TNet(**SMALL, compression=ratio, rank_scheme='in_out')
    assert legacy.ranks[6:] == (3, 3) and legacy.ranks[:4] == shape[:4]
    if ratio <= 0.2:  # then the small modes are compressed too
        assert any(r < s for r, s in zip(net.ranks[:4] + net.ranks[6:],
                                         shape[:4] + shape[6:]))


def test_tensor_dropout_only_in_training():
    net = TNet(**SMALL, ranks=(2, 2, 3, 2, 8, 8, 3, 3), tensor_dropout=0.5)
    net.eval()
    w0 = net.conv_weights()
    torch.testing.assert_close(net.conv_weights(), w0)
    net.train()
    torch.manual_seed(0)
    assert not torch.allclose(net.conv_weights(), w0)


def _estimator_cfg(**backbone):
    codec = dict(type='MSRAHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1)
    return dict(
        type='TopdownPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type='TNet', **SMALL, **backbone),
        head=dict(type='MultiStackHeatmapHead', num_stacks=2, in_channels=3, out_channels=3,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
        test_cfg=dict(flip_test=False))


def test_topdown_estimator_trains_and_round_trips_checkpoint(tmp_path):
    init_default_scope('mmpose')  # as default_runtime.py does (data preprocessor lookup)
    model = MODELS.build(_estimator_cfg(compression=0.3, tensor_dropout=0.1))
    model.init_weights()
    sample = PoseDataSample(metainfo=dict(input_size=(32, 32), input_center=(16, 16),
                                          input_scale=(32, 32)))
    sample.gt_fields = PixelData(heatmaps=torch.rand(3, 8, 8))
    sample.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 3))
    inputs = torch.randn(2, 3, 32, 32)
    losses = model(inputs, [sample, sample.clone()], mode='loss')
    losses['loss_kpt'].backward()
    assert model.backbone.weight_tensor.core.grad.abs().sum() > 0
    model.eval()
    feats = model.extract_feat(inputs)
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'tnet.pth')
    other = MODELS.build(_estimator_cfg(compression=0.3, tensor_dropout=0.1)).eval()
    other.load_state_dict(torch.load(tmp_path / 'tnet.pth', weights_only=True)['state_dict'])
    for a, b in zip(other.extract_feat(inputs), feats):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('kwargs,match', [
    (dict(compression=1.5), r'compression must be a float in \(0, 1\] or None, got 1.5'),
    (dict(ranks=(2, 2, 3, 2, 9, 8, 3, 3)), r'ranks .* out of range; allowed: 8 ints'),
    (dict(compress_modes=('channels', )), r"unknown \['channels'\]; allowed: a non-empty "
     r"subset of \['stacks'"),
    (dict(tensor_dropout=1.0), r'tensor_dropout must be in \[0, 1\), got 1.0'),
    (dict(rank_scheme='channels'), r"unknown rank_scheme 'channels'; allowed: \['all_modes', "
     r"'in_out'\]"),
    (dict(compression=1e-5), 'below the smallest T-Net'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TNet(**SMALL, **kwargs)


def test_bad_input_size():
    with pytest.raises(ValueError, match=r'divisible by 4 \* 2\*\*depth = 16, got 24x24'):
        TNet(**SMALL)(torch.zeros(1, 3, 24, 24))


def test_complexity_walker_counts_every_slice_conv_and_the_tensor_once():
    from plugins.analysis import complexity
    net = TNet(**SMALL, ranks=(2, 2, 3, 2, 4, 4, 3, 3)).eval()
    report = complexity(net, (1, 3, 32, 32))
    assert report.total.real_params == sum(p.numel() for p in net.parameters())
    # the 24 tensor-sliced convs: per stack, level 0 at 8x8 (skip) + 4x4 (down, up) and
    # level 1 at 4x4 (skip) + 2x2 (down, up); 2 convs per block, 8x8x3x3 MACs per pixel
    pixels = 2 * 2 * (64 + 2 * 16 + 16 + 2 * 4)
    row = next(r for r in report.rows if r.name == 'conv')
    assert row.calls == 24 and row.cost.flops == pixels * 8 * 8 * 9
    tensor = next(r for r in report.rows if r.name == 'weight_tensor')
    assert tensor.cost.real_params == net.tensor_params()


def test_heatmap_convs_start_near_zero_like_the_hourglass():
    """Heatmap convs from N(0, 0.001), bias 0 (StackedHourglass's init): the first stack's
    heatmaps have the std predicted from its features, 0.001 * sqrt(mean_p ||y_p||^2), and are
    far smaller than with PyTorch's default init."""
    torch.manual_seed(0)
    small, default = TNet(**SMALL, compression=None).eval(), TNet(
        **SMALL, compression=None, heatmap_init_std=None).eval()
    feats = []
    small.features[0].register_forward_hook(lambda _m, _i, o: feats.append(o))
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        hm, hm_default = small(x)[0], default(x)[0]
    for conv in small.heatmaps:
        assert conv.bias.abs().max() == 0
    expected = 0.001 * feats[0].pow(2).sum(1).mean().sqrt()  # std of a sum of C weighted terms
    assert 0.5 * expected < hm.std() < 2 * expected
    assert hm.abs().max() < 0.05 * hm_default.abs().max()
