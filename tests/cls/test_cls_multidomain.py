"""Incremental multi-domain learning: earlier domains bit-for-bit unchanged."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import MODELS

import plugins  # noqa: F401
from plugins.cls.multidomain import LatentTuckerResNet, TuckerTensorGroup, tucker_to_tensor


def _net(layout='resnet26'):
    torch.manual_seed(0)
    net = LatentTuckerResNet(layers=(2, 1), widths=(4, 8), rank=0.5, layout=layout)
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


@pytest.mark.parametrize('layout', ['resnet26', 'transition'])
def test_earlier_domains_identical_after_adding_and_training(layout):
    net = _net(layout)
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


@pytest.mark.parametrize('layout', ['resnet26', 'transition'])
def test_parameters_added_per_domain(layout):
    net = _net(layout)
    n0 = sum(p.numel() for p in net.parameters())
    net.add_domain('b', 3)
    added = sum(p.numel() for p in net.parameters()) - n0
    head = 8 * 3 + 3
    assert added == net.params_per_domain() + head
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert trainable == added
    if layout == 'transition':
        # by hand: stem (4,3,3,3) ranks (2,3,3,3); transitions (4,4,3,3) r (2,2,3,3),
        # (8,4,3,3) r (4,2,3,3); stages (2,2,4,4,3,3) r (2,2,2,2,3,3), (1,2,8,8,3,3)
        # r (1,2,4,4,3,3)
        factors = (8 + 9 + 9 + 9) + (8 + 8 + 18) + (32 + 8 + 18) + (4 + 4 + 8 + 8 + 18) + \
            (1 + 4 + 32 + 32 + 18)
        norms = 2 * (4 + 4 * 5 + 8 * 3)
        full = 4 * 27 + 16 * 9 + 32 * 9 + 2 * 2 * 16 * 9 + 1 * 2 * 64 * 9 + norms
    else:
        # by hand: stem (2,3,3,3) ranks (1,3,3,3); no transitions; stages as above; norms:
        # stem 2, stage 0 2x2x4, stage 1 2x8, final BN 8
        factors = (2 + 9 + 9 + 9) + (4 + 4 + 8 + 8 + 18) + (1 + 4 + 32 + 32 + 18)
        norms = 2 * (2 + 16 + 16 + 8)
        # dense convs: stem 2x3x3x3; block 0's first conv reads 2 (stage 0) / 4 (stage 1)
        # channels: 4x2x9 + 3 x 4x4x9, then 8x4x9 + 8x8x9
        full = 2 * 27 + (4 * 2 * 9 + 3 * 16 * 9) + (8 * 4 * 9 + 64 * 9) + norms
    assert net.params_per_domain() == factors + norms
    assert net.full_network_params() == full


def test_resnet26_downsamples_inside_the_first_block_of_each_stage():
    """Against a plain re-implementation with torch.nn modules and the same weights."""
    net = _net('resnet26').eval()
    assert len(net.transitions) == 0 and net.strides == (2, 2)
    x = torch.randn(3, 3, 9, 9)  # odd size: pooled shortcut and strided conv must agree
    n = iter(net.norms[0])

    def bn(y):
        m = next(n)
        return F.batch_norm(y, m.running_mean, m.running_var, m.weight, m.bias, False)

    y = F.relu(bn(F.conv2d(x, net.stem.weight(0), padding=1)))
    for stage, stride in zip(net.stages, (2, 2)):
        w = stage.weight(0)
        for b in range(w.shape[0]):
            s = stride if b == 0 else 1
            cin = y.shape[1]
            conv1 = torch.nn.Conv2d(cin, w.shape[2], 3, s, 1, bias=False)
            conv1.weight.data = w[b, 0][:, :cin]
            z = bn(F.conv2d(F.relu(bn(conv1(y))), w[b, 1], padding=1))
            shortcut = torch.nn.AvgPool2d(2, ceil_mode=True)(y) if s == 2 else y
            zeros = torch.zeros(y.shape[0], w.shape[2] - cin, *shortcut.shape[2:])
            y = F.relu(z + torch.cat([shortcut, zeros], 1))
    ref = net.heads[0](F.relu(bn(y)).mean((2, 3)))
    assert y.shape[2:] == (3, 3)  # 9 -> 5 -> 3: both stages downsampled
    torch.testing.assert_close(net(x, 0), ref)


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
    with pytest.raises(ValueError, match=r"unknown layout 'resnet18'; allowed: \['resnet26', "
                       r"'transition'\]"):
        LatentTuckerResNet(layout='resnet18')


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
