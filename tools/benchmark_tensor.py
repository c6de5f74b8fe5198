"""Speed of CP convolutions: sequential vs reconstructed vs dense vs TensorLy-Torch.

    python tools/benchmark_tensor.py            # full run (15 interleaved repetitions)
    python tools/benchmark_tensor.py --quick    # 5 repetitions, for a smoke test

For each shape, every variant is timed in the same loop (interleaved, so load changes on a
shared machine hit all of them alike); the table reports medians and ratios to the dense
conv. ``FLOP limit`` is dense MACs / CP-sequential MACs, the speed-up an ideal implementation
would reach. Variants:

- ``dense``: ``nn.Conv2d`` (oneDNN), input NCHW;
- ``cp-seq``: :class:`plugins.tensor.CPConv2d`, ``implementation='factorized'``, input NCHW;
- ``cp-seq-cl``: the same on a channels-last input (what a network of such layers passes on);
- ``dense-cl``: the dense conv on a channels-last input;
- ``cp-rec``: ``implementation='reconstructed'``;
- ``tltorch``: ``tltorch.FactorizedConv`` (CP, ``implementation='factorized'``), same rank.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import plugins  # noqa: E402,F401
from plugins.engine.progress import track  # noqa: E402
from plugins.tensor import CPConv2d  # noqa: E402

SHAPES = [  # (channels, spatial size, batch): the shapes of the issue
    (256, 32, 8),
    (128, 64, 4),
]


def build(channels: int, ratio: float) -> dict:
    torch.manual_seed(0)
    dense = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
    seq = CPConv2d.from_conv(dense, rank=ratio, decompose=False)
    rec = CPConv2d(channels, channels, 3, padding=1, bias=False, rank=seq.rank,
                   implementation='reconstructed')
    rec.load_state_dict(seq.state_dict())
    layers = dict(dense=dense, seq=seq, rec=rec)
    try:
        import tltorch
        layers['tltorch'] = tltorch.FactorizedConv(channels, channels, 3, order=2,
                                                   padding=1, rank=seq.rank,
                                                   factorization='cp',
                                                   implementation='factorized')
    except ImportError:  # pragma: no cover
        pass
    return layers


def run(args: argparse.Namespace) -> list:
    torch.set_num_threads(args.threads)
    rows = []
    for channels, size, batch in track(SHAPES, desc='benchmark_tensor', unit='shape'):
        layers = build(channels, args.ratio)
        x = torch.randn(batch, channels, size, size)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        variants = {
            'dense': (layers['dense'], x),
            'dense-cl': (layers['dense'], x_cl),
            'cp-seq': (layers['seq'], x),
            'cp-seq-cl': (layers['seq'], x_cl),
            'cp-rec': (layers['rec'], x),
        }
        if 'tltorch' in layers:
            variants['tltorch'] = (layers['tltorch'], x)
        for mode in ('forward', 'fwd+bwd'):
            times = {k: [] for k in variants}

            def step(layer, inp):
                if mode == 'forward':
                    with torch.no_grad():
                        layer(inp)
                else:
                    inp = inp.detach().requires_grad_()
                    layer(inp).sum().backward()

            for layer, inp in variants.values():  # warm-up
                step(layer, inp)
            for _ in range(args.reps):
                for name, (layer, inp) in variants.items():
                    t0 = time.perf_counter()
                    step(layer, inp)
                    times[name].append(time.perf_counter() - t0)
            med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
            seq = layers['seq']
            out = torch.empty(batch, channels, size, size)
            dense_flops = out.numel() * channels * 9
            cp_flops = seq.cost((x, ), out).flops
            rows.append(dict(shape=f'{channels}ch {size}x{size} b{batch}', mode=mode,
                             rank=seq.rank,
                             params=sum(p.numel() for p in seq.parameters()) /
                             sum(p.numel() for p in layers['dense'].parameters()),
                             flop_limit=dense_flops / cp_flops, ms={k: v * 1e3
                                                                    for k, v in med.items()}))
    return rows


def breakdown(args: argparse.Namespace) -> str:
    """Time the stages of the sequential CP conv (NCHW input) against the dense conv.

    Returns a table of ms, MACs and achieved GMAC/s per stage: how far each stage is from the
    dense conv's throughput explains the gap between the measured speed-up and the FLOP limit.
    """
    import torch.nn.functional as F

    from plugins.tensor.factorized_conv import gemm_channel_mix
    lines = ['| shape | stage | ms | MMACs | GMAC/s |', '|---|---|---|---|---|']
    for channels, size, batch in track(SHAPES, desc='benchmark_tensor', unit='shape'):
        layers = build(channels, args.ratio)
        seq, dense = layers['seq'], layers['dense']
        r, p = seq.rank, batch * size * size
        x = torch.randn(batch, channels, size, size)
        with torch.no_grad():
            y = gemm_channel_mix(x, seq.factor_in, channels_last=True)
            kernel = seq.depthwise_kernel()
            z = F.conv2d(y, kernel, padding=1, groups=r)
            stages = {
                'dense conv': (lambda: dense(x), p * channels * channels * 9),
                '1x1 in (GEMM)': (lambda: gemm_channel_mix(x, seq.factor_in, True),
                                  p * channels * r),
                'depthwise rank-1 3x3': (lambda: F.conv2d(y, kernel, padding=1, groups=r),
                                         p * r * 9),
                '1x1 out (GEMM)': (lambda: gemm_channel_mix(z, seq.factor_out.t(), False),
                                   p * r * channels),
                'whole CP layer': (lambda: seq(x), seq.cost((x, ), x).flops),
            }
            times = {k: [] for k in stages}
            for _ in range(args.reps):
                for name, (fn, _) in stages.items():
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
        for name, (_, macs) in stages.items():
            ms = sorted(times[name])[len(times[name]) // 2] * 1e3
            lines.append(f'| {channels}ch {size}x{size} b{batch} | {name} | {ms:.2f} | '
                         f'{macs / 1e6:.0f} | {macs / ms / 1e6:.1f} |')
    return '\n'.join(lines)


def markdown(rows: list) -> str:
    names = list(rows[0]['ms'])
    head = ('| shape | pass | CP rank (params) | FLOP limit | ' +
            ' | '.join(f'{n} ms' for n in names) + ' | ' +
            ' | '.join(f'dense / {n}' for n in names if n != 'dense') + ' |')
    lines = [head, '|' + '---|' * (4 + 2 * len(names) - 1)]
    for r in rows:
        ms = r['ms']
        lines.append(f'| {r["shape"]} | {r["mode"]} | {r["rank"]} ({r["params"]:.3f}x) | '
                     f'{r["flop_limit"]:.1f}x | ' + ' | '.join(f'{ms[n]:.1f}' for n in names) +
                     ' | ' + ' | '.join(f'{ms["dense"] / ms[n]:.2f}x' for n in names
                                        if n != 'dense') + ' |')
    return '\n'.join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='5 repetitions')
    parser.add_argument('--reps', type=int, default=15, help='interleaved repetitions')
    parser.add_argument('--ratio', type=float, default=0.1, help='CP parameter ratio')
    parser.add_argument('--threads', type=int, default=2, help='torch threads')
    parser.add_argument('--breakdown', action='store_true',
                        help='also time the stages of the sequential CP conv')
    args = parser.parse_args(argv)
    if args.quick:
        args.reps = 5
    print(f'torch {torch.__version__}, {args.threads} threads, {args.reps} interleaved reps, '
          f'medians')
    print(markdown(run(args)))
    if args.breakdown:
        print()
        print(breakdown(args))


if __name__ == '__main__':
    main()
