"""Benchmark the packed XNOR-popcount convolution against PyTorch's float convolution.

Layer shapes of the hourglass (Newell, 256 channels, 64x64 top resolution; HPM block convs)
and of ResNet-18 at 224x224, and whole models, at batch 1. Variants of a case run
interleaved (one call of each per round, rotating order), so a shared or throttled machine
affects them alike; the table reports medians and the ratio float / packed.

    .venv/bin/python tools/benchmark_deploy.py            # full table (a few minutes)
    .venv/bin/python tools/benchmark_deploy.py --quick    # fewer shapes and rounds (~1 min)
    .venv/bin/python tools/benchmark_deploy.py --threads 1 --isa 2   # force AVX2 code path

Output: a markdown table (paste into docs/deploy.md) and the model sizes.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import plugins  # noqa: E402,F401
from plugins.deploy import (
    PackedBinaryConv2d,
    best_isa,
    export_binary,
    save_packed,  # noqa
    size_report)
from plugins.deploy.build import ISA_NAMES  # noqa: E402

# (name, C_in, C_out, kernel, stride, H=W)
HOURGLASS_LAYERS = [
    ('hg 3x3 256->256 @64', 256, 256, 3, 1, 64),
    ('hg 3x3 256->256 @32', 256, 256, 3, 1, 32),
    ('hg 3x3 256->256 @16', 256, 256, 3, 1, 16),
    ('hg 3x3 256->256 @8', 256, 256, 3, 1, 8),
    ('hg 3x3 256->256 @4', 256, 256, 3, 1, 4),
    ('HPM 3x3 256->128 @64', 256, 128, 3, 1, 64),
    ('HPM 3x3 128->64 @64', 128, 64, 3, 1, 64),
    ('HPM 3x3 64->64 @64', 64, 64, 3, 1, 64),
    ('hg 1x1 256->256 @64', 256, 256, 1, 1, 64),
]
RESNET_LAYERS = [
    ('r18 3x3 64->64 @56', 64, 64, 3, 1, 56),
    ('r18 3x3 64->128 /2 @56', 64, 128, 3, 2, 56),
    ('r18 3x3 128->128 @28', 128, 128, 3, 1, 28),
    ('r18 3x3 256->256 @14', 256, 256, 3, 1, 14),
    ('r18 3x3 512->512 @7', 512, 512, 3, 1, 7),
]
QUICK_LAYERS = [
    'hg 3x3 256->256 @64', 'hg 3x3 256->256 @16', 'HPM 3x3 128->64 @64', 'r18 3x3 64->64 @56',
    'r18 3x3 512->512 @7'
]


def interleaved(fns: Dict[str, Callable[[], object]], rounds: int, warmup: int = 2) -> Dict:
    """Median wall seconds of each function, measured in rotating order, one call per round;
    ``'<name> cpu'`` holds the median process CPU seconds (all threads), which a machine shared
    with other jobs inflates less than wall time."""
    names = list(fns)
    times: Dict[str, List[float]] = {n: [] for n in names}
    cpu: Dict[str, List[float]] = {n: [] for n in names}
    with torch.no_grad():
        for _ in range(warmup):
            for n in names:
                fns[n]()
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for n in order:
                c, t = time.process_time(), time.perf_counter()
                fns[n]()
                times[n].append(time.perf_counter() - t)
                cpu[n].append(time.process_time() - c)
    out = {n: statistics.median(v) for n, v in times.items()}
    out.update({f'{n} cpu': statistics.median(v) for n, v in cpu.items()})
    return out


def bench_layer(c, o, k, s, hw, rounds):
    torch.manual_seed(0)
    x = torch.randn(1, c, hw, hw)
    w = torch.randn(o, c, k, k)
    packed = PackedBinaryConv2d.from_signs(torch.sign(w),
                                           scale=torch.rand(o),
                                           stride=s,
                                           padding=k // 2).eval()
    packed(x)  # builds the kernel layout once
    return interleaved(
        {
            'float': lambda: F.conv2d(x, w, None, s, k // 2),
            'packed': lambda: packed(x)
        }, rounds)


def hourglass(binary: bool, channels: int, depth: int, stacks: int) -> nn.Module:
    from mmpose.registry import MODELS
    conv = dict(type='BinaryConv2d', scale='learned', scale_shape='channel') if binary \
        else None
    return MODELS.build(
        dict(type='StackedHourglass',
             num_stacks=stacks,
             depth=depth,
             channels=channels,
             out_channels=16,
             stem_channels=(64, 128),
             block=dict(type='HPMBlock',
                        conv_cfg=conv,
                        act_cfg=None if binary else dict(type='ReLU')))).eval()


def resnet(binary: bool) -> nn.Module:
    import timm
    return timm.create_model('binary_resnet18_channel' if binary else 'real_bireal_resnet18',
                             num_classes=1000).eval()


def bench_model(name, real, binary, x, rounds):
    packed = export_binary(binary)
    with torch.no_grad():
        packed(x)
    t = interleaved(
        {
            'float': lambda: real(x),
            'fake-binary': lambda: binary(x),
            'packed': lambda: packed(x)
        },
        rounds,
        warmup=1)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'model.bnn')
        save_packed(packed, path)
        sizes = size_report(binary, path)
    buf = io.BytesIO()
    torch.save(real.state_dict(), buf)
    sizes['real_float_bytes'] = len(buf.getvalue())
    return t, sizes


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='few shapes, few rounds, small models')
    p.add_argument('--rounds', type=int, default=None, help='timed rounds per case')
    p.add_argument('--threads', type=int, default=None, help='torch and kernel threads')
    p.add_argument('--isa',
                   type=int,
                   default=None,
                   choices=[0, 1, 2, 3],
                   help='force a kernel code path (default: widest available)')
    p.add_argument('--no-models', action='store_true', help='layer shapes only')
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.isa is not None:
        os.environ['PLUGINS_DEPLOY_ISA'] = str(args.isa)
    rounds = args.rounds or (5 if args.quick else 15)
    isa = args.isa if args.isa is not None else best_isa()
    print(f'# torch {torch.__version__}, threads {torch.get_num_threads()}, kernel '
          f'{ISA_NAMES[isa]}, rounds {rounds}, cpu {os.cpu_count()} cores')
    print('| case | float conv ms | packed binary ms | speed-up (wall) | speed-up (CPU time) |')
    print('|---|---:|---:|---:|---:|')
    layers = HOURGLASS_LAYERS + RESNET_LAYERS
    if args.quick:
        layers = [row for row in layers if row[0] in QUICK_LAYERS]
    for name, c, o, k, s, hw in layers:
        t = bench_layer(c, o, k, s, hw, rounds)
        print(
            f'| {name} | {t["float"] * 1e3:.2f} | {t["packed"] * 1e3:.2f} | '
            f'{t["float"] / t["packed"]:.1f}x | '
            f'{t["float cpu"] / t["packed cpu"]:.1f}x |',
            flush=True)
    if args.no_models:
        return
    torch.manual_seed(0)
    if args.quick:
        hg = dict(channels=128, depth=3, stacks=1)
        hw = 128
    else:
        hg = dict(channels=256, depth=4, stacks=2)
        hw = 256
    models = [(f'binary HPM hourglass {hg["stacks"]}x{hg["channels"]}ch d{hg["depth"]} '
               f'@{hw}', hourglass(False, **hg), hourglass(True, **hg), torch.randn(1, 3, hw, hw))]
    models.append(('binary ResNet-18 (Bi-Real layout) @224', resnet(False), resnet(True),
                   torch.randn(1, 3, 224, 224)))
    print('\n| model (batch 1) | float ms | fake-binary ms | packed ms | speed-up vs float '
          '(wall) | (CPU time) | float ckpt MB | packed file MB | size ratio |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    for name, real, binary, x in models:
        t, sz = bench_model(name, real, binary, x, max(3, rounds // 3))
        print(
            f'| {name} | {t["float"] * 1e3:.1f} | {t["fake-binary"] * 1e3:.1f} | '
            f'{t["packed"] * 1e3:.1f} | {t["float"] / t["packed"]:.1f}x | '
            f'{t["float cpu"] / t["packed cpu"]:.1f}x | '
            f'{sz["float_bytes"] / 1e6:.2f} | {sz["packed_file_bytes"] / 1e6:.3f} | '
            f'{sz["ratio"]:.1f}x |',
            flush=True)


if __name__ == '__main__':
    main()
