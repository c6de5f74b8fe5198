"""Lazy build and loading of the XNOR-popcount kernel library (``csrc/xnor_conv.cpp``), and of
other plain C++ sources of the project (:func:`compiled_library`, e.g. the training passes of
``plugins/binary/csrc/train_ops.cpp``).

The kernel is plain C++ with a C ABI (no torch headers), so it compiles in 10-20 s with
the system ``g++`` and is called through :mod:`ctypes`. It is compiled on first use, never at
``import plugins``, and cached under a directory keyed by the hash of the source, the compiler
version and the flags, so an edited source or another compiler rebuilds it automatically.

Build directory, first that is usable:
``$PLUGINS_DEPLOY_BUILD_DIR``, ``plugins/deploy/csrc/build/`` (git-ignored), then
``~/.cache/plugins-deploy/``. The compiler is ``$CXX`` or ``g++``.

Without a compiler, a library built earlier from the same source (any compiler) in one of these
directories is used, so a build directory can be shipped. Prebuild with
``python -m plugins.deploy.build`` (prints the library path and the instruction set).

Vector instructions are chosen at run time inside the library (``__builtin_cpu_supports``), so
the build uses no ``-march=native`` and the cached file runs on any x86-64 CPU.
"""
from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable, Optional

SOURCE = Path(__file__).parent / 'csrc' / 'xnor_conv.cpp'
# -ffp-contract=off: every float operation rounds as in the float model; the BatchNorms use
# explicit fmaf, as torch's vectorised BatchNorm does (plugins/deploy/norm_terms.py)
FLAGS = ['-O3', '-std=c++17', '-fPIC', '-shared', '-fopenmp', '-fno-math-errno',
         '-ffp-contract=off']
ISA_NAMES = {0: 'portable', 1: 'popcnt', 2: 'avx2', 3: 'avx512_vpopcntdq'}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


class KernelBuildError(RuntimeError):
    """The kernel library could not be compiled or loaded."""


def _compiler() -> str:
    cxx = os.environ.get('CXX', 'g++')
    if shutil.which(cxx) is None:
        raise KernelBuildError(
            f'no C++ compiler found (tried {cxx!r}; set $CXX). The packed binary kernel is '
            'compiled on first use; install g++ (e.g. `apt-get install g++`).')
    return cxx


def _build_dirs() -> list[Path]:
    dirs = []
    if os.environ.get('PLUGINS_DEPLOY_BUILD_DIR'):
        dirs.append(Path(os.environ['PLUGINS_DEPLOY_BUILD_DIR']))
    dirs.append(SOURCE.parent / 'build')
    dirs.append(Path.home() / '.cache' / 'plugins-deploy')
    dirs.append(Path(tempfile.gettempdir()) / f'plugins-deploy-{os.getuid()}')
    return dirs


def _source_key(source: Path = SOURCE) -> str:
    return hashlib.sha1(source.read_bytes()).hexdigest()[:12]


def _key(cxx: str, source: Path = SOURCE) -> str:
    """``<source hash>-<compiler and flags hash>``."""
    version = subprocess.run([cxx, '--version'], capture_output=True, text=True).stdout
    h = hashlib.sha1(version.encode())
    h.update(' '.join(FLAGS).encode())
    return f'{_source_key(source)}-{h.hexdigest()[:8]}'


def _prebuilt(source: Path = SOURCE) -> Optional[Path]:
    """A library built from this source by any compiler (for machines without one)."""
    for d in _build_dirs():
        found = sorted(d.glob(f'{source.stem}-{_source_key(source)}-*.so')) if d.is_dir() else []
        if found:
            return found[0]
    return None


class LazyLibrary:
    """A C++ source's library, compiled and loaded on the first call (once per process, thread
    safe), for code that has a torch fallback: where it cannot be built the call warns once
    and returns None from then on.

    Args:
        source: path of the ``.cpp`` file (built by :func:`compiled_library`).
        declare: called once with the loaded ``ctypes.CDLL`` to set argument and result types.
        what: what the library is, for the warning (e.g. ``'binary training ops'``).
        env: an environment variable that disables the library when it is ``0``.
    """

    def __init__(self, source: Path, declare: Callable[[ctypes.CDLL], None], what: str,
                 env: Optional[str] = None) -> None:
        self.source, self.declare, self.what, self.env = Path(source), declare, what, env
        self._lib: Optional[ctypes.CDLL] = None
        self._failed = False
        self._lock = threading.Lock()

    def enabled(self) -> bool:
        """False when ``env`` is set to ``0``."""
        return self.env is None or os.environ.get(self.env, '1') != '0'

    def __call__(self) -> Optional[ctypes.CDLL]:
        if not self.enabled():
            return None
        if self._lib is not None or self._failed:
            return self._lib
        with self._lock:
            if self._lib is None and not self._failed:
                try:
                    lib = ctypes.CDLL(str(compiled_library(self.source)))
                except (KernelBuildError, OSError) as e:
                    self._failed = True
                    warnings.warn(f'{self.what}: C++ library unavailable, using torch ops ({e})')
                    return None
                self.declare(lib)
                self._lib = lib
        return self._lib

    def reset(self) -> None:
        """Forget the loaded library or the failure (the next call tries again)."""
        with self._lock:
            self._lib, self._failed = None, False


def library_path() -> Path:
    """Compile the kernel if needed and return the path of the shared library.

    Returns:
        Path of ``xnor_conv-<hash>.so`` in the first writable build directory.

    Raises:
        KernelBuildError: no compiler, or the compilation failed (its output is included).
    """
    return compiled_library(SOURCE)


def compiled_library(source: Path) -> Path:
    """Compile a plain C++ source (C ABI, no torch headers) with :data:`FLAGS` if needed and
    return the path of the shared library, ``<stem>-<source hash>-<compiler hash>.so`` in the
    first writable build directory (see the module docstring; a library built earlier from the
    same source is used when there is no compiler).

    Args:
        source: path of the ``.cpp`` file.

    Raises:
        KernelBuildError: no compiler and no prebuilt library, or the compilation failed (its
            output is included).
    """
    source = Path(source)
    try:
        cxx = _compiler()
    except KernelBuildError:
        prebuilt = _prebuilt(source)
        if prebuilt is None:
            raise
        return prebuilt
    name = f'{source.stem}-{_key(cxx, source)}.so'
    errors = []
    for d in _build_dirs():
        target = d / name
        if target.exists():
            return target
        try:
            d.mkdir(parents=True, exist_ok=True)
            with open(d / '.lock', 'w') as lockf:
                fcntl.flock(lockf, fcntl.LOCK_EX)  # concurrent test processes build once
                if not target.exists():
                    tmp = d / f'{name}.{os.getpid()}.tmp'
                    cmd = [cxx, *FLAGS, str(source), '-o', str(tmp)]
                    res = subprocess.run(cmd, capture_output=True, text=True)
                    if res.returncode != 0:
                        raise KernelBuildError(
                            f'compiling {source.name} failed:\n$ {" ".join(cmd)}\n{res.stderr}')
                    os.replace(tmp, target)
            return target
        except OSError as e:  # read-only or missing directory: try the next one
            errors.append(f'{d}: {e}')
    raise KernelBuildError('no writable build directory: ' + '; '.join(errors))


def load_library() -> ctypes.CDLL:
    """Build (once) and load the kernel library; the result is cached per process."""
    global _lib
    with _lock:
        if _lib is None:
            import torch  # noqa: F401  (loads torch's libgomp first, so both share one OpenMP)
            lib = ctypes.CDLL(str(library_path()))
            P, I = ctypes.c_void_p, ctypes.c_int
            lib.bnn_conv2d.argtypes = [
                P, I, I, I, I, P, P, I, I, I, I, I, I, I, I, I, I, I, P, P, P, I, I, I, I, P, P
            ]
            lib.bnn_conv2d.restype = I
            lib.bnn_conv2d_chain.argtypes = lib.bnn_conv2d.argtypes + [
                P, I, I, P, P, P, P, P, P, P, P, I
            ]
            lib.bnn_conv2d_chain.restype = I
            lib.bnn_set_min_work_per_thread.argtypes = [ctypes.c_longlong]
            lib.bnn_min_work_per_thread.restype = ctypes.c_longlong
            lib.bnn_best_isa.restype = I
            lib.bnn_max_threads.restype = I
            # y = act(norm(p)) for pool_first: returns the number of zero outputs, or -1
            lib.bnn_norm_act.argtypes = [P, P, I, I, ctypes.c_longlong, P, P, P, I, I]
            lib.bnn_norm_act.restype = ctypes.c_longlong
            _lib = lib
        return _lib


def best_isa() -> int:
    """The widest popcount the CPU offers: 3 AVX-512 VPOPCNTDQ, 2 AVX2, 1 POPCNT, 0 portable."""
    return load_library().bnn_best_isa()


if __name__ == '__main__':
    print(f'{library_path()} ({ISA_NAMES[best_isa()]})')
