"""The C++ passes of plugins/ops (csrc/pool.cpp) against the torch formulas they replace, alone
and inside the whole hourglass, in one process (``PLUGINS_OPS_NATIVE`` is read on every call,
so both variants run interleaved, one call of each per round, rotating order).

    .venv/bin/python tools/benchmark_ops.py --threads 2              # ops and hourglass
    .venv/bin/python tools/benchmark_ops.py --threads 2 --no-models  # ops only

Output: markdown tables of median wall ms (``torch`` = ``PLUGINS_OPS_NATIVE=0``, ``C++`` =
the native passes) and their ratio; for the models (the benchmark_deploy hourglass, float and
exported packed, batch 1) also the packed model's speed-up over the float model with each
variant, both measured in the same rounds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable, Dict

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from plugins.ops import add3, max_pool2x2, upsample2x_add  # noqa: E402

VARIANTS = {'torch': '0', 'C++': '1'}


def interleaved(fns: Dict[str, Callable[[], object]], rounds: int, warmup: int = 2) -> Dict:
    """Median wall seconds per function; each name ``'<variant>/<case>'`` runs with that
    variant's ``PLUGINS_OPS_NATIVE``."""
    names = list(fns)
    times = {n: [] for n in names}

    def call(n):
        os.environ['PLUGINS_OPS_NATIVE'] = VARIANTS[n.split('/')[0]]
        t = time.perf_counter()
        fns[n]()
        return time.perf_counter() - t

    with torch.no_grad():
        for _ in range(warmup):
            for n in names:
                call(n)
        for r in range(rounds):
            for n in names[r % len(names):] + names[:r % len(names)]:
                times[n].append(call(n))
    return {n: statistics.median(v) for n, v in times.items()}


def op_cases():
    """(name, function) of the hourglass's shapes (256 channels, 64x64 top) and its stem pool
    (128 channels at 128x128)."""
    cases = []
    for hw in (64, 32, 16, 8):
        x, low = torch.randn(1, 256, hw, hw), torch.randn(1, 256, hw // 2, hw // 2)
        cases.append((f'max_pool2x2 (1, 256, {hw}, {hw})', lambda x=x: max_pool2x2(x)))
        cases.append((f'upsample2x_add (1, 256, {hw}, {hw})',
                      lambda x=x, low=low: upsample2x_add(x, low)))
    s = torch.randn(1, 128, 128, 128)
    cases.append(('max_pool2x2 stem (1, 128, 128, 128)', lambda: max_pool2x2(s)))
    a, b, c = (torch.randn(1, 256, 64, 64) for _ in range(3))
    cases.append(('add3 stack merge (1, 256, 64, 64)', lambda: add3(a, b, c)))
    return cases


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--threads', type=int, default=None, help='torch and C++ threads')
    p.add_argument('--rounds', type=int, default=None, help='timed rounds (ops: x20)')
    p.add_argument('--no-models', action='store_true', help='ops only')
    p.add_argument('--no-ops', action='store_true', help='the hourglass only')
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = args.rounds or 12
    print(f'# torch {torch.__version__}, threads {torch.get_num_threads()}, load average '
          + ', '.join(f'{v:.1f}' for v in os.getloadavg()))
    if not args.no_ops:
        print('| op | torch ms | C++ ms | speed-up |\n|---|---:|---:|---:|')
        for name, fn in op_cases():
            t = interleaved({'torch/op': fn, 'C++/op': fn}, rounds * 20)
            print(f'| {name} | {t["torch/op"] * 1e3:.3f} | {t["C++/op"] * 1e3:.3f} | '
                  f'{t["torch/op"] / t["C++/op"]:.1f}x |', flush=True)
    if args.no_models:
        return
    import benchmark_deploy as bd
    from plugins.deploy import export_binary
    torch.manual_seed(0)
    real = bd.hourglass(False, 256, 4, 2)
    packed = export_binary(bd.hourglass(True, 256, 4, 2))
    x = torch.randn(1, 3, 256, 256)
    t = interleaved({f'{v}/{m}': (lambda m=m: (real if m == 'float' else packed)(x))
                     for v in VARIANTS for m in ('float', 'packed')}, rounds, warmup=1)
    print('\n| hourglass 2x256 ch d4 @256, batch 1 | float ms | packed ms | packed speed-up |\n'
          '|---|---:|---:|---:|')
    for v in VARIANTS:
        f, q = t[f'{v}/float'], t[f'{v}/packed']
        print(f'| resampling and merge in {v} | {f * 1e3:.1f} | {q * 1e3:.1f} | {f / q:.2f}x |')


if __name__ == '__main__':
    main()
