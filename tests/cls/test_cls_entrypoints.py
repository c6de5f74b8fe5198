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


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_build_through_timm_and_config(name):
    torch.manual_seed(0)
    direct = timm.create_model(name, **TINY)
    cfg = Config(dict(model=dict(type='TimmClassifier', timm_model=name, num_classes=5,
                                 timm_kwargs=dict(width=4, stem='small'))))
    wrapped = MODELS.build(cfg.model)
    assert _params(wrapped.backbone) == _params(direct)
    assert wrapped.backbone.state_dict().keys() == direct.state_dict().keys()
    if name.startswith('binary'):
        kinds = {type(m).__name__ for m in direct.modules()}
        assert 'BinaryConv2d' in kinds and 'Conv2d' in kinds  # real stem / shortcuts


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
