"""Decathlon score against a hand computation."""
import pytest

import plugins  # noqa: F401
from plugins.cls import decathlon_reference_errors, decathlon_score


def test_reference_table():
    ref = decathlon_reference_errors()
    assert len(ref) == 10
    assert ref['imagenet12'] == pytest.approx(1 - 0.5987)
    assert ref['svhn'] == pytest.approx(1 - 0.9655)


def test_baseline_scores_2500_and_zero_error_10000():
    ref = decathlon_reference_errors()
    total, per = decathlon_score(ref)
    assert total == pytest.approx(2500.0)
    assert all(v == pytest.approx(250.0) for v in per.values())
    assert decathlon_score({d: 0.0 for d in ref})[0] == pytest.approx(10000.0)


def test_known_table_by_hand():
    base = {'a': 0.10, 'b': 0.40, 'c': 0.05}
    errors = {'a': 0.05, 'b': 0.30, 'c': 0.20}
    # a: E_max 0.2, alpha 1000/0.04 = 25000, (0.2-0.05)^2 = 0.0225 -> 562.5
    # b: E_max 0.8, alpha 1000/0.64 = 1562.5, (0.8-0.3)^2 = 0.25 -> 390.625
    # c: E_max 0.1 < 0.2 -> 0
    total, per = decathlon_score(errors, base)
    assert per == pytest.approx({'a': 562.5, 'b': 390.625, 'c': 0.0})
    assert total == pytest.approx(953.125)


def test_decathlon_table_by_hand():
    ref = decathlon_reference_errors()
    errors = dict(ref, svhn=0.03, dtd=0.5)
    e_max = 2 * (1 - 0.9655)
    svhn = 1000 / e_max**2 * (e_max - 0.03)**2
    e_max = 2 * (1 - 0.5553)
    dtd = 1000 / e_max**2 * (e_max - 0.5)**2
    assert decathlon_score(errors)[0] == pytest.approx(250 * 8 + svhn + dtd)


def test_bad_tables():
    with pytest.raises(KeyError, match='mnist'):
        decathlon_score(dict(decathlon_reference_errors(), mnist=0.1))
    with pytest.raises(KeyError, match='missing'):
        decathlon_score({'svhn': 0.1})
    assert decathlon_score({'svhn': 0.1}, require_all=False)[0] >= 0
    with pytest.raises(ValueError, match='accuracies in percent'):
        decathlon_score({'a': 95.0}, {'a': 0.1})
