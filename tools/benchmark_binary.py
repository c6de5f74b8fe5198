#!/usr/bin/env python
"""Speed of training-time binarisation: a binary 3x3 conv (forward + backward) with each scaling
shape against the float ``nn.Conv2d`` of the same shape, measured interleaved in one run.

For each shape (channels, size, batch) every variant is timed once per round, in a shuffled
order, for ``--rounds`` rounds after ``--warmup`` rounds; the table gives the median time and
the ratio of medians to the float conv. ``naive`` is the common straight-through formulation
(``x.clamp(-1, 1) + (x.sign() - x.clamp(-1, 1)).detach()`` for inputs and weights, and an
output multiply), for reference.

    python tools/benchmark_binary.py            # 128ch 64x64 b4 and 256ch 32x32 b8
    python tools/benchmark_binary.py --quick    # small shapes, few rounds (a smoke run)
    python tools/benchmark_binary.py --threads 1 --clock cpu   # on a shared machine
"""
from __future__ import annotations

import argparse
import os.path as osp
import random
import statistics
import sys
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import plugins  # noqa: E402,F401
from plugins.binary import BinaryConv2d  # noqa: E402

VARIANTS = {
    'float': None,
    'none': dict(scale='none'),
    'xnor': dict(scale='xnor'),
    'channel': dict(scale='learned', scale_shape='channel'),
    'chw': dict(scale='learned', scale_shape='chw'),
    'rank1': dict(scale='learned', scale_shape='rank1'),
    'channel_spatial': dict(scale='learned', scale_shape='channel_spatial'),
    'naive': 'naive',
}


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
    return BinaryConv2d(c, c, 3, padding=1, bias=False, out_size=(size, size), **spec)


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}
CLOCK = time.perf_counter


def step(layer: nn.Module, x: torch.Tensor, g: torch.Tensor) -> float:
    t = CLOCK()
    y = layer(x)
    y.backward(g)
    dt = CLOCK() - t
    x.grad = None
    for p in layer.parameters():
        p.grad = None
    return dt


def bench(c: int, size: int, batch: int, rounds: int, warmup: int, variants, seed: int = 0):
    torch.manual_seed(seed)
    layers = {v: build(v, c, size) for v in variants}
    x = torch.randn(batch, c, size, size, requires_grad=True)
    g = torch.randn(batch, c, size, size)
    times = {v: [] for v in variants}
    rng = random.Random(seed)
    for r in range(warmup + rounds):
        order = list(variants)
        rng.shuffle(order)
        for v in order:
            dt = step(layers[v], x, g)
            if r >= warmup:
                times[v].append(dt)
    med = {v: statistics.median(ts) for v, ts in times.items()}
    return med


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='small shapes and few rounds')
    p.add_argument('--rounds', type=int, default=None)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch)')
    p.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument('--clock', choices=list(CLOCKS), default='wall',
                   help='wall time (quiet machine), or process CPU time (a shared machine: '
                   'excludes time the process waits for a core; use with --threads 1)')
    args = p.parse_args(argv)
    global CLOCK
    CLOCK = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    if 'float' not in args.variants:
        args.variants = ['float'] + args.variants
    shapes = [(32, 32, 2)] if args.quick else [(128, 64, 4), (256, 32, 8)]
    rounds = args.rounds or (5 if args.quick else 30)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock, '
          f'{rounds} rounds (+{args.warmup} warm-up), interleaved; '
          f'ratio = median / median(float)')
    results = {}
    for c, size, batch in shapes:
        med = bench(c, size, batch, rounds, args.warmup, args.variants)
        results[(c, size, batch)] = med
        print(f'\n3x3 conv, {c} channels, {size}x{size}, batch {batch} (forward + backward)')
        print(f'| variant | median ms | ratio to float |\n|---|---:|---:|')
        for v in args.variants:
            print(f'| {v} | {med[v] * 1e3:.1f} | {med[v] / med["float"]:.3f} |')
    return results


if __name__ == '__main__':
    main()
