"""Shared tiny embedded data set for the lip-reading tests (generated once per session)."""
import pytest

from plugins.lipreading.synthetic import generate_lrw_synthetic


@pytest.fixture(scope='session')
def tiny_lrw(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('lrw_synthetic'))
    generate_lrw_synthetic(root, seed=3, words=('ABOUT', 'MONEY'), num_train=2, num_val=0,
                           num_test=1)
    return root
