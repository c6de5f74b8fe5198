"""The Visual Domain Decathlon score (Bilen, Rebuffi and Jakab, CVPR 2017 challenge).

For domains ``d`` with test error ``E_d`` (a fraction in [0, 1]) the score is

    S = sum_d alpha_d * max(0, E_max_d - E_d) ** gamma_d,
    E_max_d = 2 * E_baseline_d,   gamma_d = 2,   alpha_d = 1000 * E_max_d ** (-gamma_d),

so a domain scores 1000 at zero error, 250 at the baseline error and 0 at twice the baseline
error or worse; ten domains give at most 10000. The challenge's baseline errors are stored as
data in ``decathlon_reference.json`` (the 'Finetune' accuracies of Rebuffi et al., NeurIPS
2017, whose score is 2500 by construction). For other domain sets (e.g. the embedded digits
domains) pass your own baseline errors.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Mapping

from ..datasets.decathlon import DECATHLON_DOMAINS

__all__ = ['DECATHLON_DOMAINS', 'decathlon_reference_errors', 'decathlon_score']

_REFERENCE_FILE = osp.join(osp.dirname(__file__), 'decathlon_reference.json')


def decathlon_reference_errors() -> dict[str, float]:
    """The challenge's per-domain baseline errors.

    Returns:
        ``{domain: error}`` with errors as fractions in [0, 1].
    """
    with open(_REFERENCE_FILE) as f:
        ref = json.load(f)
    return {k: round(1.0 - v / 100.0, 6) for k, v in ref['accuracy'].items()}


def _check_errors(name: str, errors: Mapping[str, float]) -> None:
    for d, e in errors.items():
        if not 0.0 <= float(e) <= 1.0:
            raise ValueError(f'{name}[{d!r}] = {e} is not an error fraction in [0, 1] '
                             f'(pass errors, not accuracies in percent)')


def decathlon_score(errors: Mapping[str, float],
                    baseline_errors: Mapping[str, float] | None = None,
                    gamma: float = 2.0,
                    require_all: bool = True) -> tuple[float, dict[str, float]]:
    """Decathlon score of a table of per-domain test errors.

    Args:
        errors: ``{domain: test error}``, errors as fractions in [0, 1].
        baseline_errors: ``{domain: baseline error}``; defaults to the challenge's reference
            (:func:`decathlon_reference_errors`).
        gamma: the exponent ``gamma_d`` (2 in the challenge).
        require_all: if True, every baseline domain must have an error.

    Returns:
        ``(total score, {domain: score})``.

    Raises:
        KeyError: a domain without a baseline error, or (``require_all``) a baseline domain
            without an error.
        ValueError: an error outside [0, 1] or a baseline error of 0.
    """
    base = dict(decathlon_reference_errors() if baseline_errors is None else baseline_errors)
    _check_errors('errors', errors)
    _check_errors('baseline_errors', base)
    unknown = sorted(set(errors) - set(base))
    if unknown:
        raise KeyError(f'no baseline error for domain(s) {unknown}; known domains: {sorted(base)}')
    missing = sorted(set(base) - set(errors))
    if require_all and missing:
        raise KeyError(f'errors missing for domain(s) {missing} (pass require_all=False to score '
                       f'a subset)')
    per_domain = {}
    for d, e in errors.items():
        e_max = 2.0 * float(base[d])
        if e_max <= 0:
            raise ValueError(f'baseline error of domain {d!r} is 0: the score is undefined')
        alpha = 1000.0 * e_max**(-gamma)
        per_domain[d] = alpha * max(0.0, e_max - float(e))**gamma
    return sum(per_domain.values()), per_domain
