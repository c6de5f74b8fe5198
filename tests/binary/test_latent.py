import pytest
import tensorly as tl
import torch
from tensorly.cp_tensor import cp_to_tensor
from tensorly.tucker_tensor import tucker_to_tensor

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d, build_latent


def test_svd_reconstructs_product_of_factors():
    lat = build_latent(dict(type='SVD', rank=3), (6, 4, 3, 3))
    assert torch.allclose(lat(), (lat.U @ lat.V).reshape(6, 4, 3, 3))
    w = torch.randn(6, 4, 3, 3)
    full = build_latent(dict(type='SVD', rank=6), w.shape).from_weight(w)
    assert torch.allclose(full(), w, atol=1e-5)


def test_tucker_and_cp_match_tensorly():
    tucker = build_latent(dict(type='Tucker', rank=(2, 3, 3, 2)), (5, 4, 3, 3))
    cp = build_latent(dict(type='CP', rank=4), (5, 4, 3, 3))
    with tl.backend_context('numpy'):
        t_ref = tucker_to_tensor((tucker.core.detach().numpy(),
                                  [f.detach().numpy() for f in tucker.factors]))
        c_ref = cp_to_tensor((None, [f.detach().numpy() for f in cp.factors]))
    assert torch.allclose(tucker(), torch.as_tensor(t_ref), atol=1e-5)
    assert torch.allclose(cp(), torch.as_tensor(c_ref), atol=1e-5)
    w = torch.randn(5, 4, 3, 3)
    full = build_latent(dict(type='Tucker', rank=(5, 4, 3, 3)), w.shape).from_weight(w)
    assert torch.allclose(full(), w, atol=1e-4)


def _reconstruct_with_tensorly(latent, kind, shape):
    """The latent weight rebuilt from its factors by TensorLy (numpy), not by the layer."""
    with tl.backend_context('numpy'):
        if kind == 'SVD':
            return torch.as_tensor(latent.U.detach().numpy() @ latent.V.detach().numpy()
                                   ).reshape(shape)
        factors = [f.detach().numpy() for f in latent.factors]
        if kind == 'Tucker':
            return torch.as_tensor(tucker_to_tensor((latent.core.detach().numpy(), factors)))
        return torch.as_tensor(cp_to_tensor((None, factors)))


@pytest.mark.parametrize('kind', ['SVD', 'Tucker', 'CP'])
def test_latent_layer_uses_factors_and_gradients_reach_them(kind):
    torch.manual_seed(0)
    layer = BinaryConv2d(4, 6, 3, padding=1, scale='none', latent=dict(type=kind, rank=2))
    assert 'weight' not in dict(layer.named_parameters())
    # the forward is the binary conv of sign(input) with sign(latent weight), the weight
    # rebuilt independently from the layer's factors
    w = _reconstruct_with_tensorly(layer.latent, kind, (6, 4, 3, 3))
    x = torch.randn(2, 4, 5, 5)
    ref = torch.nn.functional.conv2d(torch.sign(x), torch.sign(w), layer.bias, padding=1)
    torch.testing.assert_close(layer(x), ref, atol=1e-4, rtol=1e-5)
    layer(x).square().sum().backward()
    grads = [p.grad for p in layer.latent.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_rank_too_large_names_maximum():
    with pytest.raises(ValueError, match=r'rank 7 .*\[1, 6\]'):
        build_latent(dict(type='SVD', rank=7), (6, 4, 3, 3))
    with pytest.raises(ValueError, match=r'mode 0 .*rank 9 .*\[1, 6\]'):
        build_latent(dict(type='Tucker', rank=9), (6, 4, 3, 3))
    with pytest.raises(ValueError, match='rank 1000'):
        build_latent(dict(type='CP', rank=1000), (6, 4, 3, 3))
    with pytest.raises(KeyError, match="'QR'.*SVD"):
        build_latent(dict(type='QR', rank=2), (6, 4, 3, 3))


@pytest.mark.parametrize('kind,rank', [('SVD', 0.5), ('Tucker', (2, 2, 3, 3)), ('CP', 3)])
def test_latent_layer_from_config_round_trips_checkpoint(kind, rank):
    from mmcv.cnn import build_conv_layer
    cfg = dict(type='BinaryConv2d', scale='xnor', latent=dict(type=kind, rank=rank))
    a = build_conv_layer(cfg, 4, 6, 3, padding=1)
    b = build_conv_layer(cfg, 4, 6, 3, padding=1)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 4, 5, 5)
    assert torch.equal(a(x), b(x))


def test_fresh_cp_layer_skips_als_and_keeps_the_init_scale(monkeypatch):
    from plugins.binary.latent import LatentCP

    def no_als(self, weight):
        raise AssertionError('CP-ALS must not run when a layer is built')

    monkeypatch.setattr(LatentCP, 'from_weight', no_als)
    torch.manual_seed(0)
    layer = BinaryConv2d(256, 256, 3, padding=1, latent=dict(type='CP', rank=0.5))
    dense = torch.nn.Conv2d(256, 256, 3, padding=1)  # the same (kaiming-uniform) init
    ratio = layer.real_weight().std().item() / dense.weight.std().item()
    assert layer.latent.rank == 1152 and abs(ratio - 1) < 0.05
    monkeypatch.undo()
    w = torch.randn(6, 4, 3, 3)  # trained weights are still decomposed
    small = BinaryConv2d(4, 6, 3, latent=dict(type='CP', rank=24))
    small.load_real_weight(w)
    assert torch.linalg.norm(small.real_weight() - w) < 0.5 * torch.linalg.norm(w)
