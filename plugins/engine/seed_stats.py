"""Statistics over training seeds, as the benchmark tables report them."""
from __future__ import annotations

import statistics
from typing import Sequence


def sample_std(values: Sequence[float]) -> float:
    """Sample standard deviation (``n - 1``) of per-seed values; nan for a single value."""
    return statistics.stdev(values) if len(values) > 1 else float('nan')


def mean_std(values: Sequence[float], digits: int = 1) -> str:
    """``'mean +- std'`` with the sample standard deviation, ``digits`` decimals."""
    return f'{statistics.mean(values):.{digits}f} +- {sample_std(values):.{digits}f}'
