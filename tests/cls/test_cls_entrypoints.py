"""Every timm entry point of plugins/cls builds through timm and through a config."""
import pytest
import timm
import torch
from mmengine.config import Config
from mmengine.registry import MODELS

import plugins  # noqa: F401
from plugins.cls import MODEL_NAMES
from plugins.cls.classifier import create_timm_model

TINY = dict(num_classes=5, width=4, stem='small')


def _params(m):
    return sum(p.numel() for p in m.parameters())


def test_names_registered():
    assert len(MODEL_NAMES) == 24
    assert set(MODEL_NAMES) <= set(timm.list_models())


def _block_layout(depth, width):
    """(in, out, stride) of every 3x3 conv of the basic blocks, in order, written out from the
    ResNet-18/34 description (He et al.): 4 stages of width w, 2w, 4w, 8w; the first block of
    stages 2-4 halves the resolution."""
    blocks = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}[depth]
    convs, cin = [], width
    for stage, n in enumerate(blocks):
        cout = width * 2**stage
        for b in range(n):
            stride = 2 if stage > 0 and b == 0 else 1
            convs += [(cin, cout, stride), (cout, cout, 1)]
            cin = cout
    return convs


def _params_by_hand(depth, width, classes, bireal, scale_per_channel=False):
    """Parameters of the small-stem ResNet, counted from the architecture: convs without bias,
    BN (2 per channel), PReLU (1 per channel) in the Bi-Real layout, real 1x1 shortcuts + BN
    where the shape changes, a learned scale per output channel of each binary conv, fc."""
    n = 27 * width + 2 * width + (width if bireal else 0)   # stem 3x3 conv, BN, act
    for cin, cout, stride in _block_layout(depth, width):
        n += 9 * cin * cout + 2 * cout + (cout if bireal else 0) + \
            (cout if scale_per_channel else 0)
        if cin != cout:
            n += cin * cout + 2 * cout                       # 1x1 shortcut + BN
    return n + 8 * width * classes + classes


def _kind(name):
    return ('CP' if name.startswith('cp_') else 'Tucker' if name.startswith('tucker_') else
            'BinaryConv2d' if name.startswith('binary') else 'Conv2d')


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_build_through_timm_and_config(name):
    torch.manual_seed(0)
    direct = timm.create_model(name, **TINY)
    torch.manual_seed(0)
    cfg = Config(dict(model=dict(type='TimmClassifier', timm_model=name, num_classes=5,
                                 timm_kwargs=dict(width=4, stem='small'))))
    wrapped = MODELS.build(cfg.model)
    # the config reaches the same network: same weights from the same seed, same outputs
    assert wrapped.backbone.state_dict().keys() == direct.state_dict().keys()
    x = torch.randn(2, 3, 8, 8)
    wrapped.eval(), direct.eval()
    with torch.no_grad():
        torch.testing.assert_close(wrapped.backbone(x), direct(x))
    # the block convs follow the ResNet layout written out by hand, with the variant's kind
    depth = 18 if '18' in name else 34
    convs = [(type(m).__name__, m.in_channels, m.out_channels, tuple(m.kernel_size)[0],
              _pair(m.stride)[0]) for n, m in direct.named_modules()
             if n.rsplit('.', 1)[-1] in ('conv1', 'conv2')]
    expected = [(cin, cout, 3, s) for cin, cout, s in _block_layout(depth, 4)]
    assert [c[1:] for c in convs] == expected
    assert all(_kind(name) in kind for kind, *_ in convs), {c[0] for c in convs}
    assert direct.stem[0].in_channels == 3 and direct.fc.weight.shape == (5, 32)
    if name.startswith('binary'):
        kinds = {type(m).__name__ for m in direct.modules()}
        assert 'BinaryConv2d' in kinds and 'Conv2d' in kinds  # real stem / shortcuts


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize('name,bireal,per_channel', [
    ('real_resnet{}', False, False), ('real_bireal_resnet{}', True, False),
    ('binary_resnet{}_none', True, False), ('binary_resnet{}_xnor', True, False),
    ('binary_resnet{}_channel', True, True)])
@pytest.mark.parametrize('depth', [18, 34])
def test_parameter_count_equals_hand_count(name, bireal, per_channel, depth):
    m = timm.create_model(name.format(depth), **TINY)
    assert _params(m) == _params_by_hand(depth, 4, 5, bireal, per_channel)


@pytest.mark.parametrize('name', [n for n in MODEL_NAMES if '18' in n])
def test_forward_backward(name):
    torch.manual_seed(0)
    m = timm.create_model(name, **TINY)
    x = torch.randn(2, 3, 8, 8)
    y = m(x)
    assert y.shape == (2, 5)
    y.logsumexp(1).sum().backward()
    grads = [p.grad for p in m.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert m.fc.weight.grad.abs().sum() > 0 and m.stem[0].weight.grad.abs().sum() > 0


def test_real_resnet_matches_timm_resnet_size():
    # the real baseline has exactly the parameter count of timm's own ResNets
    for ours, theirs in (('real_resnet18', 'resnet18'), ('real_resnet34', 'resnet34')):
        assert _params(timm.create_model(ours)) == _params(timm.create_model(theirs))


def test_pretrained_never_downloads(tmp_path):
    with pytest.raises(ValueError, match='nothing is downloaded'):
        timm.create_model('binary_resnet18_xnor', pretrained=True)
    src = timm.create_model('real_resnet18', **TINY)
    path = tmp_path / 'w.pth'
    torch.save(src.state_dict(), path)
    m = timm.create_model('real_resnet18', pretrained=True,
                          pretrained_cfg_overlay=dict(file=str(path), num_classes=5), **TINY)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(),
                                                 src.state_dict().values()))
    assert not timm.create_model('real_resnet18', **TINY).pretrained_cfg['url']


def test_unknown_model_name():
    with pytest.raises(KeyError, match='binary_resnet18_xnor'):
        create_timm_model('binary_resnet18_xnorr')


def test_bad_layout_options():
    with pytest.raises(ValueError, match="skip='bogus'"):
        timm.create_model('real_resnet18', skip='bogus')
    with pytest.raises(ValueError, match='stem'):
        timm.create_model('real_resnet18', stem='huge')


def test_full_width_latent_cp_resnet_builds_and_trains_a_step():
    # the CP latent starts from scaled random factors (no CP-ALS at build) and is rebuilt as
    # factor @ khatri-rao: the full-width network is usable, not only at toy width
    torch.manual_seed(0)
    m = timm.create_model('binary_resnet18_latent_cp', num_classes=10)
    latent = [mod.latent for mod in m.modules() if getattr(mod, 'latent', None) is not None]
    assert len(latent) == 16 and max(lat.rank for lat in latent) == 461  # 0.1 of 4608
    weights = [lat() for lat in latent]
    for lat, w in zip(latent, weights):
        fan_in = w[0].numel()  # kaiming-uniform init: std = 1 / sqrt(3 * fan_in)
        assert abs(w.std().item() * (3 * fan_in)**0.5 - 1) < 0.1, lat
    y = m(torch.randn(2, 3, 32, 32))
    y.logsumexp(1).sum().backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in latent[-1].factors)
