"""tools/benchmark_cls.py multidomain: seeds and the mean +- std summary over them."""

import numpy as np
import pytest


def test_multidomain_seeds_train_keep_earlier_domains_and_summarise(load_tool):
    tool = load_tool('benchmark_cls.py')
    kw = dict(quick=False, domains=['digits', 'digits_inverted'], epochs=(1, 1, 1))
    runs = [tool.run_multidomain(seed=s, **kw) for s in (0, 1)]
    again = tool.run_multidomain(seed=1, **kw)
    assert [r['seed'] for r in runs] == [0, 1]
    assert runs[0]['layout'] == 'resnet26'           # the paper's layout is what is measured
    for r in runs:
        assert r['steps'][1]['earlier_identical'] is True
        # one epoch already learns: far above chance (10 %) on the first domain
        assert r['steps'][0]['val_top1'] > 40
    # a seed is a full specification of the run; another seed is another run
    assert again['steps'] == runs[1]['steps'] or all(
        {k: v for k, v in a.items() if k != 'train_s'} == {k: v for k, v in b.items()
                                                          if k != 'train_s'}
        for a, b in zip(again['steps'], runs[1]['steps']))
    assert runs[0]['baseline_errors'] != runs[1]['baseline_errors'] or \
        [s['val_top1'] for s in runs[0]['steps']] != [s['val_top1'] for s in runs[1]['steps']]

    rows = tool.summarise_multidomain(runs)
    assert [r['domain'] for r in rows] == ['digits', 'digits_inverted']
    assert rows[1]['earlier_identical'] is True and rows[0]['earlier_identical'] == '-'
    for k, row in enumerate(rows):
        acc = np.array([r['steps'][k]['val_top1'] for r in runs])
        mean, std = row['val_top1'].split(' +- ')
        assert float(mean) == pytest.approx(acc.mean(), abs=0.006)
        assert float(std) == pytest.approx(acc.std(ddof=1), abs=0.006)
        assert row['val_top1_per_seed'] == ', '.join(f'{a:.2f}' for a in acc)


def test_multidomain_transition_layout_is_measured_when_asked(load_tool):
    tool = load_tool('benchmark_cls.py')
    kw = dict(quick=False, domains=['digits', 'digits_inverted'], epochs=(1, 1, 1))
    old = tool.run_multidomain(layout='transition', **kw)
    assert old['layout'] == 'transition' and old['steps'][1]['earlier_identical'] is True
    new = tool.run_multidomain(**kw)
    # transition convs are extra Tucker tensors: more parameters per domain (8.7 % vs 7.0 %)
    assert old['params_per_domain_ratio'] > new['params_per_domain_ratio']


def test_summary_refuses_runs_of_different_networks(load_tool):
    tool = load_tool('benchmark_cls.py')
    step = dict(step=0, domain='digits', added_params=10, added_ratio=0.1, val_top1=90.0,
                baseline_top1=91.0, earlier_identical='-', score=0.0)
    runs = [dict(seed=0, steps=[step]), dict(seed=1, steps=[dict(step, added_params=11)])]
    with pytest.raises(ValueError, match='disagree'):
        tool.summarise_multidomain(runs)
    one_false = [dict(seed=0, steps=[step, dict(step, step=1, earlier_identical=True)]),
                 dict(seed=1, steps=[step, dict(step, step=1, earlier_identical=False)])]
    assert tool.summarise_multidomain(one_false)[1]['earlier_identical'] is False
