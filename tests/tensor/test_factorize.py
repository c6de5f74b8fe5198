"""factorize(model, cfg): which convolutions are converted, exactness, errors."""
import pytest
import torch
import torch.nn as nn

import plugins  # noqa: F401
from plugins.tensor import CPConv, TuckerConv, factorize


def _net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1, groups=8)),
        nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 4, 1))


def test_keeps_first_last_and_grouped_and_is_exact_at_full_rank():
    net = _net()
    x = torch.randn(2, 3, 8, 8)
    ref = net(x)
    factorize(net, dict(type='TuckerConv', rank=(8, 8, 3, 3)))
    assert net.factorized_names == ['2.0', '3']
    assert isinstance(net[0], nn.Conv2d) and isinstance(net[4], nn.Conv2d)
    assert isinstance(net[2][1], nn.Conv2d)  # depthwise: skipped
    assert isinstance(net[3], TuckerConv)
    torch.testing.assert_close(net(x), ref, atol=1e-4, rtol=1e-4)


def test_include_exclude_and_first_last_switch():
    net = factorize(_net(), dict(factorization='cp', rank=4, include=['2.*', '3', '4'],
                                 exclude=['3'], keep_first_last=False))
    assert net.factorized_names == ['2.0', '4']
    assert isinstance(net[4], CPConv)


@pytest.mark.parametrize('cfg,match', [
    (dict(type='CPConv', include=['head.*']), r"include pattern 'head.\*' matches no "
     r"convolution; the convolutions are: \['0', '2.0'"),
    (dict(type='CPConv', exclude=['nope']), "exclude pattern 'nope' matches no"),
    (dict(type='Conv2d'), r"unknown factorised conv type 'Conv2d'; allowed: \['CPConv'"),
    (dict(factorization='tt'), r"unknown factorization 'tt'; allowed: \['cp', 'tucker'\]"),
    (dict(type='CPConv', ranks=3), r"unknown cfg keys \['ranks'\]"),
])
def test_errors(cfg, match):
    with pytest.raises(ValueError, match=match):
        factorize(_net(), cfg)


def test_complexity_walker_reads_the_factorised_costs():
    from plugins.analysis import complexity
    net = factorize(_net(), dict(type='CPConv', rank=3))
    report = complexity(net.eval(), (1, 3, 8, 8))
    assert report.total.real_params == sum(p.numel() for p in net.parameters())
    row = next(r for r in report.rows if r.name == '3')
    assert row.cost.flops == 64 * (8 * 3 + 3 * 9 + 3 * 8)  # 1x1 in, rank-1 3x3, 1x1 out


def test_factorize_shows_progress_per_layer(monkeypatch, capsys):
    import torch.nn as nn

    from plugins.tensor import factorize
    monkeypatch.setenv('PROGRESS', 'bar')
    model = nn.Sequential(*[nn.Conv2d(4, 4, 3, padding=1) for _ in range(5)])
    factorize(model, dict(type='CPConv', rank=0.5, decompose=False))
    err = capsys.readouterr().err
    assert 'factorize (CPConv' in err and '3/3' in err  # first and last stay dense
