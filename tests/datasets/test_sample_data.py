"""plugins/datasets/sample_data.py and tests/conftest.py's ``sample_path``: a clone without the
real-format samples skips the tests that need them, with the path and the variables in the
reason; ``REQUIRE_SAMPLE_DATA=1`` (what .ci/run sets) turns that into a failure."""
import os.path as osp

import pytest

from plugins.datasets.sample_data import REPO_ROOT, sample_data_root


def test_root_follows_the_variable_and_defaults_beside_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv('SAMPLE_DATA_ROOT', raising=False)
    assert sample_data_root() == osp.join(osp.dirname(REPO_ROOT), 'shared', 'data',
                                          'mmpose_tests')
    monkeypatch.setenv('SAMPLE_DATA_ROOT', str(tmp_path))
    assert sample_data_root() == str(tmp_path)


def test_missing_samples_skip_with_the_path_or_fail_when_required(sample_path, monkeypatch,
                                                                   tmp_path):
    monkeypatch.setenv('SAMPLE_DATA_ROOT', str(tmp_path))
    monkeypatch.delenv('REQUIRE_SAMPLE_DATA', raising=False)
    (tmp_path / 'mpii').mkdir()
    assert sample_path('mpii') == str(tmp_path / 'mpii')
    missing = str(tmp_path / '300w' / 'test_300w.json')
    with pytest.raises(pytest.skip.Exception) as skip:
        sample_path('300w', 'test_300w.json')
    for part in (missing, 'SAMPLE_DATA_ROOT', 'REQUIRE_SAMPLE_DATA=1'):
        assert part in str(skip.value)
    monkeypatch.setenv('REQUIRE_SAMPLE_DATA', '1')
    with pytest.raises(pytest.fail.Exception, match=missing):
        sample_path('300w', 'test_300w.json')


def test_ci_requires_the_samples_and_runs_readme_test_command():
    lines = [ln.strip() for ln in open(osp.join(REPO_ROOT, '.ci', 'run'))
             if ln.strip() and not ln.lstrip().startswith('#')]
    assert 'export REQUIRE_SAMPLE_DATA=1' in lines
    assert lines[-1] == 'make test'
    assert 'make test' in open(osp.join(REPO_ROOT, 'README.md')).read()
