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


def test_missing_compiler_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(build, '_build_dirs', lambda: [tmp_path])  # no prebuilt library there
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


def test_portable_only_build_for_other_cpus(tmp_path):
    """Compiled as on a non-x86 CPU (-DBNN_NO_X86), the library offers isa 0 and is exact."""
    import ctypes
    import shutil
    import subprocess

    import torch
    import torch.nn.functional as F

    from plugins.deploy import PackedBinaryConv2d
    cxx = shutil.which('g++')
    if cxx is None:
        pytest.skip('no g++')
    so = tmp_path / 'portable.so'
    subprocess.run([cxx, *build.FLAGS, '-DBNN_NO_X86',
                    str(build.SOURCE), '-o',
                    str(so)],
                   check=True)
    lib = ctypes.CDLL(str(so))
    assert lib.bnn_best_isa() == 0
    torch.manual_seed(0)
    x = torch.randn(1, 70, 5, 6)
    signs = torch.copysign(torch.ones(()), torch.randn(9, 70, 3, 3))
    layer = PackedBinaryConv2d.from_signs(signs, padding=1)
    wt, tp = layer._kernel_buffers()
    out = torch.empty(1, 9, 5, 6)
    rc = lib.bnn_conv2d(*[
        ctypes.c_void_p(x.data_ptr()), 1, 70, 5, 6,
        ctypes.c_void_p(wt.data_ptr()),
        ctypes.c_void_p(tp.data_ptr()), 9, 1, 3, 3, 1, 1, 1, 1, 1, 1, 0, None, None,
        ctypes.c_void_p(out.data_ptr()), 5, 6, 1, 3, None, None
    ])  # isa 3 requested: falls back to portable
    assert rc == 0
    ref = F.conv2d(F.pad(torch.copysign(torch.ones(()), x), (1, 1, 1, 1)), signs)
    assert torch.equal(out, ref)


def test_without_compiler_a_prebuilt_library_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv('PLUGINS_DEPLOY_BUILD_DIR', str(tmp_path))
    monkeypatch.setattr(build, '_build_dirs', lambda: [tmp_path])
    built = build.library_path()
    monkeypatch.setenv('CXX', 'no-such-compiler-xyz')
    assert build.library_path() == built
