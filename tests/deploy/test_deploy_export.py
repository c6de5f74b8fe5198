"""export_binary: packed models reproduce the fake-binarised models' eval outputs."""
import pytest
import torch
from torch import nn

import plugins  # noqa: F401  (registers BinaryConv2d and the model families)
from plugins.binary import BinaryConv2d
from plugins.deploy import ExportReport, PackedBinaryConv2d, export_binary


def randomise(model: nn.Module, seed: int = 0, pow2_scales: bool = False) -> nn.Module:
    """Non-trivial norms, scales and slopes (as after training)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.3, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.2, generator=g)
            elif isinstance(m, nn.PReLU):
                m.weight.uniform_(0.05, 0.5, generator=g)
        for name, p in model.named_parameters():
            if '.scaling.' in name:
                if pow2_scales:  # exact in float: folding the scale into W loses nothing
                    p.copy_(2.0**torch.randint(-3, 2, p.shape, generator=g))
                else:
                    p.uniform_(0.5, 1.5, generator=g)
    return model


def assert_reproduces(model, x, exact=False):
    model.eval()
    report = ExportReport()
    packed = export_binary(model, report=report)
    with torch.no_grad():
        ref, out = model(x), packed(x)
    ref = ref if isinstance(ref, (tuple, list)) else [ref]
    out = out if isinstance(out, (tuple, list)) else [out]
    for r, o in zip(ref, out):
        if exact:
            assert torch.equal(r, o)
        else:
            torch.testing.assert_close(o, r, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(m, BinaryConv2d) for m in packed.modules() if not report.skipped)
    return packed, report


LAYER_OPTIONS = [
    dict(scale='none'),
    dict(scale='xnor'),
    dict(scale='learned', scale_shape='channel'),
    dict(scale='learned', scale_shape='chw'),
    dict(scale='learned', scale_shape='rank1'),
    dict(scale='learned', scale_shape='channel_spatial'),
    dict(scale='learned', weight_quantizer=dict(type='SignSTE', center='in_channels')),
    dict(scale='learned', act_quantizer=dict(type='SmoothSign', hard=True, normalize=True),
         weight_quantizer=dict(type='SmoothSign', hard=True, center='filter')),
    dict(scale='learned', act_scale=True),
    dict(scale='learned', latent=dict(type='SVD', rank=0.5)),
    dict(scale='learned', post_act=dict(type='ChannelPReLU')),
    dict(scale='none', act_quantizer=dict(type='ApproxSign')),
]


@pytest.mark.parametrize('opts', LAYER_OPTIONS, ids=lambda o: '-'.join(map(str, o.values())))
def test_small_model_with_real_first_and_last_layers(opts):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 24, 3, padding=1),  # real first layer
        nn.BatchNorm2d(24),
        BinaryConv2d(24, 37, 3, padding=1, bias=True, **opts),
        nn.BatchNorm2d(37),
        BinaryConv2d(37, 40, 3, stride=2, padding=2, dilation=2, groups=1, bias=False, **opts),
        nn.BatchNorm2d(40),
        BinaryConv2d(40, 40, 1, groups=4, bias=False, **opts),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(40, 5))  # real last layer
    x = torch.randn(2, 3, 12, 12)
    model(x)  # resolves chw/rank1 scales
    randomise(model)
    # eval computes conv(xb, wb) * s (* K) + b like the kernel: bit-identical outputs
    packed, report = assert_reproduces(model, x, exact=True)
    assert len(report.packed) == 3 and not report.skipped
    assert isinstance(packed[0], nn.Conv2d) and isinstance(packed[-1], nn.Linear)
    assert sum(isinstance(m, PackedBinaryConv2d) for m in packed.modules()) == 3


def test_padding_modes_and_real_activation_layers_kept():
    torch.manual_seed(1)
    model = nn.Sequential(BinaryConv2d(4, 8, 3, padding=1, padding_mode='reflect'),
                          BinaryConv2d(8, 8, 3, padding=1, padding_mode='replicate', scale='xnor'),
                          BinaryConv2d(8, 8, 3, padding=1,
                                       act_quantizer=None))  # binary weights, real input
    x = torch.randn(1, 4, 9, 9)
    with pytest.warns(UserWarning, match='keeping 2'):
        packed, report = assert_reproduces(model, x)
    assert report.packed == ['0', '1'] and report.skipped[0][0] == '2'
    with pytest.raises(ValueError, match='2: activations are real'):
        export_binary(model, strict=True)


def test_centred_activation_quantiser_is_kept_real():
    model = nn.Sequential(BinaryConv2d(4, 8, 3, padding=1,
                                       act_quantizer=dict(type='SignSTE', center='in_channels')))
    with pytest.warns(UserWarning, match='centres its input'):
        _, report = assert_reproduces(model, torch.randn(1, 4, 6, 6))
    assert report.skipped and not report.packed


def test_power_of_two_scales_are_bit_exact():
    # (a bias would be added inside the float conv's accumulation: equal only up to rounding)
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64),
                          BinaryConv2d(64, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64),
                          BinaryConv2d(64, 70, 3, padding=1, stride=2, bias=False))
    randomise(model, pow2_scales=True)
    assert_reproduces(model, torch.randn(1, 3, 16, 16), exact=True)


def test_source_model_untouched():
    model = nn.Sequential(BinaryConv2d(8, 8, 3, padding=1))
    export_binary(model)
    assert isinstance(model[0], BinaryConv2d) and model[0].training


def test_binary_hourglass_reproduces_eval_outputs():
    from mmpose.registry import MODELS
    torch.manual_seed(3)
    binary_conv = dict(type='BinaryConv2d', scale='learned', scale_shape='channel')
    model = MODELS.build(
        dict(type='StackedHourglass',
             _scope_='mmpose',  # independent of the default scope other tests leave behind
             num_stacks=2,
             depth=2,
             channels=32,
             out_channels=5,
             stem_channels=(16, 32),
             block=dict(type='HPMBlock', conv_cfg=binary_conv, act_cfg=None)))
    randomise(model)
    packed, report = assert_reproduces(model, torch.randn(1, 3, 64, 64))
    assert len(report.packed) > 20
    assert isinstance(packed.stem[0][0], nn.Conv2d)  # real stem kept


@pytest.mark.parametrize(
    'name', ['binary_resnet18_channel', 'binary_resnet18_chw', 'binary_resnet18_latent_svd'])
def test_binary_resnet_reproduces_eval_outputs(name):
    import timm
    torch.manual_seed(4)
    model = timm.create_model(name, width=16, stem='small', num_classes=7)
    x = torch.randn(1, 3, 32, 32)
    model(x)  # resolves chw scales
    randomise(model)
    packed, report = assert_reproduces(model, x)
    assert len(report.packed) == 16
    assert isinstance(packed.fc, nn.Linear) and isinstance(packed.stem[0], nn.Conv2d)


@pytest.mark.parametrize('opts', [
    dict(scale='none'),
    dict(scale='learned'),
    dict(scale='xnor', post_act=dict(type='ChannelPReLU'))
])
def test_binary_linear_is_packed(opts):
    from plugins.binary import BinaryLinear
    from plugins.deploy import PackedBinaryLinear
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(10, 70), nn.BatchNorm1d(70), BinaryLinear(70, 33, **opts),
                          nn.Linear(33, 3))
    randomise(model)
    packed, report = assert_reproduces(model, torch.randn(4, 10))
    assert report.packed == ['2']
    assert any(isinstance(m, PackedBinaryLinear) for m in packed.modules())
    if 'post_act' not in opts:  # (PReLU needs channels in dim 1)
        x = torch.randn(2, 5, 70)  # any leading shape
        torch.testing.assert_close(packed[2](x), model[2].eval()(x), rtol=1e-4, atol=1e-4)


def test_complexity_of_packed_model_matches_the_binary_model():
    from plugins.analysis import complexity
    torch.manual_seed(7)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16),
                          BinaryConv2d(16, 32, 3, padding=1, bias=False, scale='learned'),
                          nn.BatchNorm2d(32),
                          BinaryConv2d(32, 32, 3, stride=2, bias=False, scale='xnor'))
    packed = export_binary(model)
    a, b = complexity(model.eval(), (1, 3, 8, 8)), complexity(packed, (1, 3, 8, 8))
    bops = 8 * 8 * 32 * 16 * 9 + 3 * 3 * 32 * 32 * 9
    assert a.total.bops == b.total.bops == bops
    assert b.total.binary_params == a.total.binary_params == 32 * 16 * 9 + 32 * 32 * 9


def test_materialized_model_exports_the_same():
    from plugins.binary import materialize
    torch.manual_seed(8)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16),
                          BinaryConv2d(16, 24, 3, padding=1, scale='learned', scale_shape='rank1',
                                       latent=dict(type='SVD', rank=0.5)))
    x = torch.randn(1, 3, 10, 10)
    model(x)
    randomise(model)
    ref = model.eval()(x)
    materialize(model)
    packed = export_binary(model)
    with torch.no_grad():
        torch.testing.assert_close(packed(x), ref, rtol=1e-4, atol=1e-4)


def test_string_paddings():
    torch.manual_seed(9)
    model = nn.Sequential(BinaryConv2d(5, 6, 3, padding='same', dilation=2),
                          BinaryConv2d(6, 7, 3, padding='valid'))
    assert_reproduces(model, torch.randn(1, 5, 9, 8))
    with pytest.raises(ValueError, match='asymmetrically'):
        export_binary(nn.Sequential(BinaryConv2d(5, 6, 2, padding='same')), strict=True)
