"""Keep freed memory in the process heap (glibc ``mallopt``): no page faults per forward.

glibc's ``malloc`` serves large blocks (above a dynamic threshold, 128 KB to 32 MB) with fresh
``mmap`` pages and trims the heap top after a free, so a forward that allocates the same 4-8 MB
activations as the last one faults every page in again: ~2k minor faults per 8 MB tensor, about
1 us each on this project's KVM machines. Measured on a 2-core Xeon (AVX-512), torch 2.14.1, 2
threads, one process: a 1x1 conv 64->128 at 128x128 took 5.2 ms with 4,700 faults per call and
1.2 ms with none; the binary hourglass's packed forward 37 -> 28 ms and its float forward 124 ->
105 ms (docs/deploy.md, "Issue 14, sixth session").

:func:`keep_heap` raises the mmap threshold and the trim threshold, so freed blocks stay mapped
and the next forward reuses them, which is what a caching allocator (jemalloc, tcmalloc, CUDA's)
gives and what PyTorch's CPU performance guide recommends for inference. It is process-wide:
call it once in a deployment or benchmark process (every model of the process gains from it);
the library never calls it on import. Memory freed below the thresholds is kept for reuse
instead of being returned to the kernel.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Optional

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: the defaults: blocks up to 32 MB come from the heap, and the heap is never trimmed below 1 GB
MMAP_THRESHOLD, TRIM_THRESHOLD = 32 << 20, 1 << 30


@lru_cache(maxsize=1)
def _libc() -> Optional[ctypes.CDLL]:
    name = ctypes.util.find_library('c')
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, 'mallopt') else None


def keep_heap(mmap_threshold: int = MMAP_THRESHOLD, trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Ask glibc's malloc to serve blocks up to ``mmap_threshold`` bytes from the heap and to
    keep up to ``trim_threshold`` bytes of freed heap mapped.

    Args:
        mmap_threshold: largest block (bytes) served from the heap; glibc refuses values above
            its maximum (``mallopt`` returns 0, and this function False).
        trim_threshold: free bytes at the heap top kept mapped.

    Returns:
        True if glibc accepted both settings, False where ``mallopt`` is missing (not glibc,
        e.g. musl or macOS) or refused a value.
    """
    for name, value in (('mmap_threshold', mmap_threshold), ('trim_threshold', trim_threshold)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f'keep_heap: {name} must be a positive number of bytes, got {value!r}')
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and \
        bool(libc.mallopt(M_TRIM_THRESHOLD, trim_threshold))


#: the ``--heap`` choices of the tools that time models
HEAP_CHOICES = ('warm', 'default')


def use_heap(choice: str) -> str:
    """Apply a tool's ``--heap`` choice and describe the result for its output header.

    Args:
        choice: ``'warm'`` (:func:`keep_heap`) or ``'default'`` (glibc's thresholds, untouched).

    Returns:
        ``'warm heap (mallopt)'``, ``'default malloc'`` or, where ``mallopt`` is missing,
        ``'default malloc (mallopt unavailable)'``.
    """
    if choice not in HEAP_CHOICES:
        raise ValueError(f'heap must be one of {HEAP_CHOICES}, got {choice!r}')
    if choice == 'default':
        return 'default malloc'
    return 'warm heap (mallopt)' if keep_heap() else 'default malloc (mallopt unavailable)'


def add_heap_argument(parser, default: str = 'warm') -> None:
    """The ``--heap`` option of a tool that times models (apply it with :func:`use_heap`), and
    ``--keep-heap`` as the short form of ``--heap warm``.

    Args:
        parser: an ``argparse.ArgumentParser``.
        default: ``'warm'`` or ``'default'``.
    """
    parser.add_argument('--heap', choices=HEAP_CHOICES, default=default,
                        help='warm: freed memory stays in the heap (glibc mallopt, '
                        'plugins/engine/heap.py), so no step pays page faults for its tensors, '
                        "as in a deployment process; default: glibc's thresholds. Every model "
                        f'of a run gets the same heap (default: {default})')
    parser.add_argument('--keep-heap', dest='heap', action='store_const', const='warm',
                        help='the same as --heap warm')


__all__ = ['keep_heap', 'use_heap', 'add_heap_argument', 'HEAP_CHOICES', 'MMAP_THRESHOLD',
           'TRIM_THRESHOLD']
