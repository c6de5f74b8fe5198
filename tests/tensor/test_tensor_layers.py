"""TCL/TRL layers and the TRL heads against explicit contractions with the full weight."""
import math

import pytest
import tensorly as tl
import torch
from mmengine.registry import MODELS as ENGINE_MODELS
from mmpose.registry import MODELS as POSE_MODELS

import plugins  # noqa: F401
from plugins.tensor import TCL, TRL, TRLClassifier


@pytest.mark.parametrize('factorization,rank', [('tucker', (3, 2, 3, 4)), ('tucker', 0.5),
                                                ('cp', 5), ('cp', 0.2)])
@pytest.mark.parametrize('out_shape', [4, (2, 3)])
def test_trl_equals_contraction_with_full_weight(factorization, rank, out_shape):
    torch.manual_seed(0)
    if isinstance(rank, tuple) and out_shape != 4:
        rank = rank[:3] + (2, 3)
    trl = TRL((4, 3, 5), out_shape, rank=rank, factorization=factorization)
    with tl.backend_context('pytorch'):
        if factorization == 'tucker':
            weight = tl.tucker_to_tensor((trl.core.detach(), [f.detach() for f in trl.factors]))
        else:
            weight = tl.cp_to_tensor((torch.ones(trl.rank), [f.detach() for f in trl.factors]))
    x = torch.randn(2, 4, 3, 5)
    ref = torch.tensordot(x, weight, dims=([1, 2, 3], [0, 1, 2])) + trl.bias.detach()
    torch.testing.assert_close(trl(x), ref, atol=1e-5, rtol=1e-4)
    n = sum(p.numel() for p in trl.parameters())
    full = (4, 3, 5) + ((out_shape, ) if isinstance(out_shape, int) else out_shape)
    if factorization == 'tucker':
        closed = math.prod(trl.rank) + sum(s * r for s, r in zip(full, trl.rank))
    else:
        closed = trl.rank * sum(full)
    assert n == closed + math.prod(full[3:])
    assert trl.cost((x, ), trl(x)).real_params == n


def test_tcl_mode_products():
    torch.manual_seed(0)
    tcl = TCL((4, 3, 5), (2, 3, 2))
    x = torch.randn(2, 4, 3, 5)
    a, b, c = [f.detach() for f in tcl.factors]
    ref = torch.einsum('nijk,pi,qj,rk->npqr', x, a, b, c) + tcl.bias.detach()
    torch.testing.assert_close(tcl(x), ref, atol=1e-5, rtol=1e-4)
    assert sum(p.numel() for p in tcl.parameters()) == 4 * 2 + 3 * 3 + 5 * 2 + 12


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match=r"unknown factorization 'tt'; allowed: \['cp', "):
        TRL((4, 3), 2, factorization='tt')
    with pytest.raises(ValueError, match=r'TRL built for inputs of shape \(N, 4, 3\), got'):
        TRL((4, 3), 2, rank=2)(torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match='Tucker rank 5 out of range for a mode of size 4'):
        TRL((4, 3), 2, rank=(5, 1, 1))


def test_trl_classifier_from_config_round_trips(tmp_path):
    cfg = dict(type='TRLClassifier', backbone='resnet10t', num_classes=5,
               input_size=(3, 32, 32), rank=(8, 1, 1, 5))
    model = ENGINE_MODELS.build(cfg).eval()
    assert isinstance(model, TRLClassifier) and model.feature_shape == (512, 1, 1)
    x = torch.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 5)
    torch.save(model.state_dict(), tmp_path / 'm.pth')
    other = ENGINE_MODELS.build(cfg).eval()
    other.load_state_dict(torch.load(tmp_path / 'm.pth', weights_only=True))
    torch.testing.assert_close(other(x), out)


def test_trl_heatmap_head_builds_and_predicts_heatmaps():
    head = POSE_MODELS.build(dict(type='TRLHeatmapHead', in_channels=6, out_channels=3,
                                  in_size=(4, 4), heatmap_size=(8, 8), rank=5))
    feats = torch.randn(2, 6, 4, 4)
    out = head((feats, ))
    assert out.shape == (2, 3, 8, 8)
    # the CP weight (6, 4, 4, 3, 8, 8) rebuilt by TensorLy (numpy) from the head's factors
    assert head.trl.factorization == 'cp' and len(head.trl.factors) == 6
    with tl.backend_context('numpy'):
        weight = tl.cp_to_tensor((None, [f.detach().numpy() for f in head.trl.factors]))
    assert weight.shape == (6, 4, 4, 3, 8, 8)
    ref = torch.tensordot(feats, torch.as_tensor(weight), dims=([1, 2, 3], [0, 1, 2]))
    torch.testing.assert_close(out, ref + head.trl.bias, atol=1e-5, rtol=1e-4)
