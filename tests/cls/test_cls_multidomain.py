"""Incremental multi-domain learning: earlier domains bit-for-bit unchanged."""
import math

import pytest
import torch
from mmengine.registry import MODELS

import plugins  # noqa: F401
from plugins.cls.multidomain import LatentTuckerResNet, TuckerTensorGroup, tucker_to_tensor


def _net():
    torch.manual_seed(0)
    net = LatentTuckerResNet(layers=(2, 1), widths=(4, 8), rank=0.5)
    net.add_domain('a', 10)
    return net


def _train(net, domain, steps=3):
    opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9, weight_decay=1e-2)
    x = torch.randn(8, 3, 8, 8)
    net.train()
    for _ in range(steps):
        loss = net(x, domain).logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_tucker_reconstruction_matches_einsum():
    core = torch.randn(2, 3, 4)
    fs = [torch.randn(5, 2), torch.randn(6, 3), torch.randn(7, 4)]
    ref = torch.einsum('abc,ia,jb,kc->ijk', core, *fs)
    assert torch.allclose(tucker_to_tensor(core, fs), ref, atol=1e-5)


def test_earlier_domains_identical_after_adding_and_training():
    net = _net()
    _train(net, 'a')
    x = torch.randn(5, 3, 8, 8)
    net.eval()
    before = net(x, 'a').clone()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    net.add_domain('b', 2)
    _train(net, 'b')
    net.add_domain('c', 10, init_from='b')
    _train(net, 'c')
    net.train()  # even in train mode a frozen domain uses its running statistics
    assert torch.equal(net(x, 'a'), before)
    net.eval()
    assert torch.equal(net(x, 0), before)
    for k, v in state.items():
        assert torch.equal(net.state_dict()[k], v), k
    assert net(x, 'b').shape == (5, 2)
    # the new domain did learn: its factors moved away from domain a's
    assert not torch.equal(net.stages[0].factors[1][2], net.stages[0].factors[0][2])


def test_parameters_added_per_domain():
    net = _net()
    n0 = sum(p.numel() for p in net.parameters())
    net.add_domain('b', 3)
    added = sum(p.numel() for p in net.parameters()) - n0
    head = 8 * 3 + 3
    assert added == net.params_per_domain() + head
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert trainable == added
    # by hand: stem (4,3,3,3) ranks (2,3,3,3); transitions (4,4,3,3) r (2,2,3,3),
    # (8,4,3,3) r (4,2,3,3); stages (2,2,4,4,3,3) r (2,2,2,2,3,3), (1,2,8,8,3,3) r (1,2,4,4,3,3)
    factors = (8 + 9 + 9 + 9) + (8 + 8 + 18) + (32 + 8 + 18) + (4 + 4 + 8 + 8 + 18) + \
        (1 + 4 + 32 + 32 + 18)
    norms = 2 * (4 + 4 * 5 + 8 * 3)
    assert net.params_per_domain() == factors + norms
    full = 4 * 27 + 16 * 9 + 32 * 9 + 2 * 2 * 16 * 9 + 1 * 2 * 64 * 9 + norms
    assert net.full_network_params() == full


def test_bad_domain_and_ranks():
    net = _net()
    with pytest.raises(KeyError, match="domain 'zz' was never added"):
        net(torch.randn(1, 3, 8, 8), 'zz')
    with pytest.raises(KeyError, match='never added'):
        net(torch.randn(1, 3, 8, 8), 3)
    with pytest.raises(ValueError, match='already exists'):
        net.add_domain('a', 10)
    with pytest.raises(ValueError, match='rank'):
        LatentTuckerResNet(rank=1.5)
    with pytest.raises(ValueError, match='do not fit'):
        TuckerTensorGroup((3, 3), (4, 1), 3)


def test_mmengine_wrapper_trains_last_domain_only():
    cfg = dict(type='MultiDomainClassifier',
               network=dict(type='LatentTuckerResNet', layers=(1, ), widths=(4, )),
               domains=[dict(name='a', num_classes=10), dict(name='b', num_classes=2)])
    model = MODELS.build(cfg)
    g = torch.Generator().manual_seed(0)
    data = dict(inputs=torch.randint(0, 256, (4, 3, 8, 8), generator=g, dtype=torch.uint8),
                data_samples=dict(gt_label=torch.tensor([0, 1, 1, 0])))
    assert model(**model.data_preprocessor(data), mode='tensor').shape == (4, 2)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(
        any(k in n for k in ('.factors.1.', '.norms.1.', '.heads.1.')) for n in trainable)
    bad = dict(data, data_samples=dict(gt_label=torch.tensor([0, 5, 1, 0])))
    with pytest.raises(ValueError, match="2 classes"):
        model(**model.data_preprocessor(bad), mode='loss')


def test_init_new_domain_hook_copies_only_at_start():
    from types import SimpleNamespace

    from mmengine.registry import HOOKS
    cfg = dict(type='MultiDomainClassifier',
               network=dict(type='LatentTuckerResNet', layers=(1, ), widths=(4, )),
               domains=[dict(name='a', num_classes=10), dict(name='b', num_classes=2)])
    model = MODELS.build(cfg)
    net = model.network
    with torch.no_grad():  # as after loading step 0's checkpoint: domain a differs from b
        for p in net.stages[0].factors[0]:
            p.add_(1.0)
    hook = HOOKS.build(dict(type='InitNewDomainHook', init_from='a'))
    logger = SimpleNamespace(info=lambda msg: None)
    hook.before_train(SimpleNamespace(iter=5, model=model, logger=logger))  # resumed: no copy
    assert not torch.equal(net.stages[0].factors[1][0], net.stages[0].factors[0][0])
    hook.before_train(SimpleNamespace(iter=0, model=model, logger=logger))
    assert all(torch.equal(a, b) for a, b in zip(net.stages[0].factors[1],
                                                 net.stages[0].factors[0]))
