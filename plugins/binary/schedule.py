"""Time points of the training-recipe hooks: an absolute iteration/epoch, or a fraction of the
run, so that a recipe config keeps its shape when the schedule changes (``switch=0.5`` is the
middle of any run).

* an ``int`` is an absolute iteration (``by='iter'``) or epoch (``by='epoch'``);
* a ``float`` in [0, 1] is that fraction of the run's ``max_iters`` / ``max_epochs``
  (rounded to the nearest iteration or epoch).
"""
from __future__ import annotations

from numbers import Integral, Real
from typing import Union

UNITS = ('iter', 'epoch')

Point = Union[int, float]


def check_point(value: Point, what: str) -> None:
    """Raise a ``ValueError`` naming ``what`` unless ``value`` is an int >= 0 or a float in
    [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f'{what} must be an int (iteration/epoch) or a float in [0, 1] '
                         f'(fraction of the run), got {value!r}')
    if isinstance(value, Integral):
        if value < 0:
            raise ValueError(f'{what} must be >= 0, got {value!r}')
    elif not 0.0 <= value <= 1.0:
        raise ValueError(f'{what} as a float is a fraction of the run and must be in [0, 1], '
                         f'got {value!r}')


def check_unit(by: str, what: str) -> None:
    if by not in UNITS:
        raise ValueError(f'{what}: unknown by {by!r}; allowed: {list(UNITS)}')


def resolve_point(value: Point, runner, by: str) -> int:
    """The iteration/epoch of ``value`` for this runner (``runner.max_iters`` or
    ``runner.max_epochs`` for a fraction)."""
    if isinstance(value, Integral):
        return int(value)
    total = runner.max_iters if by == 'iter' else runner.max_epochs
    return int(round(float(value) * total))


def current_time(runner, by: str) -> int:
    """``runner.iter`` or ``runner.epoch``."""
    return runner.iter if by == 'iter' else runner.epoch
