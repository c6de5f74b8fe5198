"""plugins/engine/heap.py: a warm heap means no page faults for re-allocated activations.

The counts come from the kernel (``getrusage`` minor faults) in a fresh interpreter per case,
so the test process's own allocator settings are untouched."""
import os
import subprocess
import sys
import textwrap

import pytest

from plugins.engine.heap import HEAP_CHOICES, _libc, keep_heap, use_heap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = textwrap.dedent('''
    import resource, sys
    import torch
    from plugins.engine.heap import keep_heap
    if sys.argv[1] == 'warm':
        assert keep_heap(mmap_threshold=128 << 20)
    n = (64 << 20) // 4  # a 64 MB tensor: glibc maps blocks this large afresh by default
    for _ in range(3):
        t = torch.empty(n); t.fill_(1.0); del t
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        t = torch.empty(n); t.fill_(1.0); del t
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 10)
''')


def faults_per_allocation(mode: str) -> float:
    out = subprocess.run([sys.executable, '-c', PROBE, mode], cwd=ROOT, check=True,
                         capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS='1')).stdout
    return float(out.split()[-1])


@pytest.mark.skipif(_libc() is None, reason='glibc mallopt is not available on this platform')
def test_warm_heap_removes_the_page_faults_of_a_reallocated_tensor():
    pages = (64 << 20) // os.sysconf('SC_PAGE_SIZE')
    cold, warm = faults_per_allocation('default'), faults_per_allocation('warm')
    # default: every allocation maps fresh pages and touches all of them
    assert cold > 0.9 * pages
    # warm: the freed block is reused; a stray re-map now and then stays far below one per page
    assert warm < 0.1 * pages


def test_bad_values_name_the_value_and_the_choices():
    with pytest.raises(ValueError, match=r"heap must be one of \('warm', 'default'\), got 'hot'"):
        use_heap('hot')
    with pytest.raises(ValueError,
                       match='mmap_threshold must be a positive number of bytes, got 0'):
        keep_heap(mmap_threshold=0)
    assert HEAP_CHOICES == ('warm', 'default')
    assert use_heap('default') == 'default malloc'  # no mallopt call


def test_the_tools_heap_option_and_its_short_form():
    import argparse

    from plugins.engine.heap import add_heap_argument
    p = argparse.ArgumentParser()
    add_heap_argument(p, default='default')
    assert p.parse_args([]).heap == 'default'
    assert p.parse_args(['--keep-heap']).heap == 'warm'
    assert p.parse_args(['--heap', 'warm']).heap == 'warm'
    with pytest.raises(SystemExit):  # argparse names the bad value and the choices
        p.parse_args(['--heap', 'hot'])
