"""plugins/engine/seed_stats.py against numpy's sample standard deviation."""
import math

import numpy as np

from plugins.engine.seed_stats import mean_std, sample_std


def test_sample_std_matches_numpy_ddof1_and_is_nan_for_one_seed():
    values = [16.53, 16.91, 17.2]
    assert math.isclose(sample_std(values), float(np.std(values, ddof=1)), rel_tol=1e-12)
    assert math.isnan(sample_std([1.0]))


def test_mean_std_formats_the_mean_and_sample_std():
    assert mean_std([65.4, 65.7, 66.7]) == '65.9 +- 0.7'  # numpy: 65.933, 0.681
    assert mean_std([1.0, 2.0], 2) == '1.50 +- 0.71'
