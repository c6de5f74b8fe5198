#!/usr/bin/env python
"""Speed of training-time binarisation: a binary 3x3 conv (forward + backward) with each scaling
shape against the float ``nn.Conv2d`` of the same shape, measured interleaved in one run.

For each shape (channels, size, batch) every variant is timed once per round, in a shuffled
order with a float step before, between and after them, for ``--rounds`` rounds after
``--warmup`` rounds; the table gives the median time and
the ratio of medians to the float conv. ``naive`` is the common straight-through formulation
(``x.clamp(-1, 1) + (x.sign() - x.clamp(-1, 1)).detach()`` for inputs and weights, and an
output multiply), for reference.

    python tools/benchmark_binary.py            # 128ch 64x64 b4 and 256ch 32x32 b8
    python tools/benchmark_binary.py --quick    # small shapes, few rounds (a smoke run)
    python tools/benchmark_binary.py --threads 1 --clock thread   # on a shared machine
    python tools/benchmark_binary.py --threads 1 --clock thread --keep-heap   # no page faults

Each round prints a progress line to stderr. ``paired`` is the median over rounds of the ratio
of a variant's step to the mean of the two float steps run just before and after it (robust to
a load change between rounds), with its quartiles as the spread; ``page faults`` is the median
number of minor page faults per step (see ``--keep-heap``); the ``*_unfused`` variants
(not run by default) are the two-node sign-then-conv form that ``BinaryConv2d`` used before
the fused sign + conv; the ``*_torch`` variants (not run by default either) are the scalings
with torch's elementwise ops instead of the C++ passes of ``plugins.binary.train_ops``
(``native_ops=False``, as without a compiler or on GPU), for a before/after in one run; the
``*_f32conv`` variants (not run by default) convolve with ``F.conv2d`` in the forward instead of
oneDNN's exact int8 convolution (``int8_forward=False``, as on GPU or where the op is missing;
see ``plugins/binary/int8_conv.py``).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import random
import resource
import statistics
import sys
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import plugins  # noqa: E402,F401
from plugins.binary import BinaryConv2d  # noqa: E402
from plugins.binary.scaling import SCALINGS  # noqa: E402
from plugins.engine.heap import add_heap_argument, use_heap  # noqa: E402

VARIANTS = {
    'float': None,
    **SCALINGS,
    'naive': 'naive',
    # the two-node form (SignSTE, then conv) the fused sign + conv replaced, for comparison
    'channel_unfused': dict(scale='learned', scale_shape='channel', fuse_sign=False),
    'chw_unfused': dict(scale='learned', scale_shape='chw', fuse_sign=False),
    # each scaling with torch's elementwise ops instead of the C++ passes (native_ops=False)
    **{f'{name}_torch': dict(spec, native_ops=False) for name, spec in SCALINGS.items()},
    # each scaling with the float forward convolution instead of the int8 one
    **{f'{name}_f32conv': dict(spec, int8_forward=False) for name, spec in SCALINGS.items()},
}
DEFAULT_VARIANTS = [v for v in VARIANTS if not v.endswith(('_unfused', '_torch', '_f32conv'))]


class NaiveBinaryConv(nn.Conv2d):
    """The usual STE formulation (detach trick), with a learned per-channel output scale."""

    def __init__(self, c: int, o: int) -> None:
        super().__init__(c, o, 3, padding=1, bias=False)
        self.alpha = nn.Parameter(torch.ones(o, 1, 1))

    def forward(self, x):
        xc = x.clamp(-1, 1)
        xb = xc + (x.sign() - xc).detach()
        wc = self.weight.clamp(-1, 1)
        wb = wc + (self.weight.sign() - wc).detach()
        return F.conv2d(xb, wb, padding=1) * self.alpha


def build(name: str, c: int, size: int) -> nn.Module:
    spec = VARIANTS[name]
    if spec is None:
        return nn.Conv2d(c, c, 3, padding=1, bias=False)
    if spec == 'naive':
        return NaiveBinaryConv(c, c)
    spec = dict(spec)
    fuse = spec.pop('fuse_sign', True)
    native = spec.pop('native_ops', True)
    int8 = spec.pop('int8_forward', True)
    layer = BinaryConv2d(c, c, 3, padding=1, bias=False, out_size=(size, size), **spec)
    layer.fuse_sign = fuse
    layer.native_ops = native
    layer.int8_forward = int8
    return layer


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time, 'thread': time.thread_time}
CLOCK = time.perf_counter


_RUSAGE = getattr(resource, 'RUSAGE_THREAD', resource.RUSAGE_SELF)
#: minor page faults of the last step (first touches of freshly mapped memory)
FAULTS = [0]


def step(layer: nn.Module, x: torch.Tensor, g: torch.Tensor) -> float:
    f = resource.getrusage(_RUSAGE).ru_minflt
    t = CLOCK()
    y = layer(x)
    y.backward(g)
    dt = CLOCK() - t
    FAULTS[0] = resource.getrusage(_RUSAGE).ru_minflt - f
    x.grad = None
    for p in layer.parameters():
        p.grad = None
    return dt


def _quartiles(values):
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return q[0], q[2]


def bench(c: int, size: int, batch: int, rounds: int, warmup: int, variants, seed: int = 0):
    """Times per variant and per-round ratios to the float conv.

    Each round runs the binary variants in a shuffled order with a float step before, between
    and after them (``F v1 F v2 ... F``); a variant's round ratio is its time over the mean of
    the two float steps that bracket it, so a load change between rounds (or within one)
    cancels out as far as it can.
    """
    torch.manual_seed(seed)
    layers = {v: build(v, c, size) for v in variants}
    x = torch.randn(batch, c, size, size, requires_grad=True)
    g = torch.randn(batch, c, size, size)
    times = {v: [] for v in variants}
    ratios = {v: [] for v in variants}
    faults = {v: [] for v in variants}
    rng = random.Random(seed)
    start = time.perf_counter()
    others = [v for v in variants if v != 'float']
    for r in range(warmup + rounds):
        order = list(others)
        rng.shuffle(order)
        before = step(layers['float'], x, g)
        floats, float_faults = [before], [FAULTS[0]]
        for v in order:
            dt = step(layers[v], x, g)
            faults[v].append(FAULTS[0])
            after = step(layers['float'], x, g)
            floats.append(after)
            float_faults.append(FAULTS[0])
            if r >= warmup:
                times[v].append(dt)
                ratios[v].append(dt / (0.5 * (before + after)))
            before = after
        if r >= warmup:
            times['float'].extend(floats)
            faults['float'].extend(float_faults)
            ratios['float'].append(1.0)
        label = f'warm-up {r + 1}/{warmup}' if r < warmup else f'round {r - warmup + 1}/{rounds}'
        print(f'  [{c} ch {size}x{size} b{batch}] {label} done, '
              f'{time.perf_counter() - start:.0f} s', file=sys.stderr, flush=True)
    med = {v: statistics.median(ts) for v, ts in times.items()}
    paired = {v: statistics.median(rs) for v, rs in ratios.items()}
    spread = {v: _quartiles(rs) for v, rs in ratios.items()}
    return med, paired, spread, {v: statistics.median(fs) for v, fs in faults.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='small shapes and few rounds')
    p.add_argument('--rounds', type=int, default=None)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch)')
    p.add_argument('--variants', nargs='+', default=DEFAULT_VARIANTS, choices=list(VARIANTS))
    p.add_argument('--clock', choices=list(CLOCKS), default='wall',
                   help='wall time (quiet machine), process CPU time, or the thread\'s CPU '
                   'time (a shared machine: excludes time the process waits for a core; use '
                   'cpu/thread with --threads 1)')
    p.add_argument('--shapes', nargs='+', default=None, metavar='C,SIZE,BATCH',
                   help='shapes to run (default: 128,64,4 256,32,8)')
    add_heap_argument(p, default='default')
    args = p.parse_args(argv)
    heap = use_heap(args.heap)
    global CLOCK
    CLOCK = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    if 'float' not in args.variants:
        args.variants = ['float'] + args.variants
    shapes = [(32, 32, 2)] if args.quick else [(128, 64, 4), (256, 32, 8)]
    if args.shapes:
        shapes = [tuple(int(v) for v in shape.split(',')) for shape in args.shapes]
    rounds = args.rounds or (5 if args.quick else 30)
    load = ', '.join(f'{v:.1f}' for v in os.getloadavg())
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock, '
          f'{rounds} rounds (+{args.warmup} warm-up), interleaved, {heap}; load average {load}; '
          f'ratio = median / median(float); paired = median over rounds of the ratio to the '
          f'mean of the two float steps around the variant, with its quartiles')
    results = {}
    for c, size, batch in shapes:
        med, paired, spread, faults = bench(c, size, batch, rounds, args.warmup, args.variants)
        results[(c, size, batch)] = med
        print(f'\n3x3 conv, {c} channels, {size}x{size}, batch {batch} (forward + backward)')
        print('| variant | median ms | ratio of medians | paired ratio | paired quartiles | '
              'page faults |\n|---|---:|---:|---:|---:|---:|')
        for v in args.variants:
            lo, hi = spread[v]
            print(f'| {v} | {med[v] * 1e3:.1f} | {med[v] / med["float"]:.3f} | '
                  f'{paired[v]:.3f} | {lo:.3f}-{hi:.3f} | {faults[v]:.0f} |')
    load = ', '.join(f'{v:.1f}' for v in os.getloadavg())
    print(f'\nload average at the end: {load}')
    return results


if __name__ == '__main__':
    main()
