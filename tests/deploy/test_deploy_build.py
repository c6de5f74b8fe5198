"""The kernel library builds on first use into a cache keyed by the source, and dispatches to
the widest popcount of this CPU."""
import pytest

from plugins.deploy import build


def test_builds_into_a_fresh_directory_and_reuses_it(tmp_path, monkeypatch):
    monkeypatch.setenv('PLUGINS_DEPLOY_BUILD_DIR', str(tmp_path))
    path = build.library_path()
    assert path.parent == tmp_path and path.name.startswith('xnor_conv-') and path.exists()
    mtime = path.stat().st_mtime_ns
    assert build.library_path() == path and path.stat().st_mtime_ns == mtime


def test_missing_compiler_is_a_clear_error(monkeypatch):
    monkeypatch.setenv('CXX', 'no-such-compiler-xyz')
    with pytest.raises(build.KernelBuildError, match='no C.. compiler'):
        build.library_path()


def test_isa_matches_cpu_flags():
    flags = set()
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('flags'):
                flags = set(line.split(':', 1)[1].split())
                break
    expected = 3 if {'avx512f', 'avx512_vpopcntdq'} <= flags else 2 if 'avx2' in flags else \
        1 if 'popcnt' in flags else 0
    assert build.best_isa() == expected
