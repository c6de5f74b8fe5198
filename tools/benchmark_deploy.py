"""Benchmark the packed XNOR-popcount convolution against PyTorch's float convolution.

Layer shapes of the hourglass (Newell, 256 channels, 64x64 top resolution; HPM block convs)
and of ResNet-18 at 224x224, and whole models, at batch 1. Variants of a case run
interleaved (one call of each per round, rotating order), so a shared or throttled machine
affects them alike; the table reports medians and the ratio float / packed.

    .venv/bin/python tools/benchmark_deploy.py            # full table (a few minutes)
    .venv/bin/python tools/benchmark_deploy.py --quick    # fewer shapes and rounds (~1 min)
    .venv/bin/python tools/benchmark_deploy.py --threads 1 --isa 2   # force AVX2 code path
    .venv/bin/python tools/benchmark_deploy.py --batches 1 8 --profile  # + batch 8, breakdown
    .venv/bin/python tools/benchmark_deploy.py --threads 2 --no-layers \
        --models hourglass hourglass_binary_1x1   # + the hourglass with binary 1x1 convs

The float and fake-binary models run the same max-pooling as the exported one
(:func:`plugins.deploy.pooling.fast_pooling`, the same values) and the same hourglass
resampling (:mod:`plugins.ops.resample`), so the speed-up counts the binary layers' work and
not a faster pooling.

Output: markdown tables (paste into docs/deploy.md): layers, whole models (float, fake-binary,
packed, packed without the packed chains of plugins/deploy/chain.py, each forward right after
another model's; float and packed again back to back, each model's forwards in a row, the
first of each block untimed: the steady state of a deployed model; sizes), and with
``--profile`` where each model's time goes by layer kind. A progress line per round goes to
stderr.
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
from plugins.binary.int8_conv import (int8_conv, int8_conv_available,  # noqa: E402
                                       pack_sign_weights, sign_to_uint8)
from plugins.binary.quantizers import sign_bit  # noqa: E402
from plugins.deploy import (
    PackedBinaryConv2d,
    best_isa,
    export_binary,
    save_packed,  # noqa
    size_report)
from plugins.deploy.build import ISA_NAMES  # noqa: E402
from plugins.deploy.pooling import fast_pooling  # noqa: E402
from plugins.engine.heap import add_heap_argument, use_heap  # noqa: E402

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


def interleaved(fns: Dict[str, Callable[[], object]], rounds: int, warmup: int = 2,
                label: str = '', repeat: int = 1) -> Dict:
    """Median wall seconds of each function, measured in rotating order, one call per round;
    ``'<name> cpu'`` holds the median process CPU seconds (all threads), which a machine shared
    with other jobs inflates less than wall time. With ``repeat`` > 1 each function runs
    ``repeat`` times in a row per round and only the calls after the first are timed (each
    function's steady state, its own data and weights in the caches)."""
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
                for k in range(repeat):
                    c, t = time.process_time(), time.perf_counter()
                    fns[n]()
                    if k or repeat == 1:
                        times[n].append(time.perf_counter() - t)
                        cpu[n].append(time.process_time() - c)
            if label:
                print(f'  [{label}] round {r + 1}/{rounds} done', file=sys.stderr, flush=True)
    out = {n: statistics.median(v) for n, v in times.items()}
    out.update({f'{n} cpu': statistics.median(v) for n, v in cpu.items()})
    return out


def onednn_int8_layer(x: torch.Tensor, w: torch.Tensor, scale: torch.Tensor, stride: int,
                      padding: int) -> Callable[[], torch.Tensor]:
    """oneDNN's int8 convolution of ``sign(x)`` and ``sign(w)`` (``plugins/binary/int8_conv.py``),
    as an inference path would run it: weights packed once, the input already uint8
    channels-last, float32 output ``conv * scale`` (channels-last). The input's conversion is
    not timed (the packed layer's time includes packing its float input), so this favours the
    int8 op slightly."""
    qx = sign_to_uint8(sign_bit(x))
    geometry = ((stride, stride), (padding, padding), (1, 1), 1)
    packed = pack_sign_weights(sign_bit(w), scale, *geometry, qx.shape)
    return lambda: int8_conv(qx, packed, scale, None, *geometry)


def bench_layer(c, o, k, s, hw, rounds, batch=1, int8=False):
    torch.manual_seed(0)
    x = torch.randn(batch, c, hw, hw)
    w = torch.randn(o, c, k, k)
    scale = torch.rand(o)
    packed = PackedBinaryConv2d.from_signs(torch.sign(w),
                                           scale=scale,
                                           stride=s,
                                           padding=k // 2).eval()
    packed(x)  # builds the kernel layout once
    fns = {'float': lambda: F.conv2d(x, w, None, s, k // 2), 'packed': lambda: packed(x)}
    if int8:
        fns['int8'] = onednn_int8_layer(x, w, scale, s, k // 2)
    return interleaved(fns, rounds, label=f'{c}->{o} {k}x{k} @{hw} b{batch}')


def hourglass(binary: bool, channels: int, depth: int, stacks: int,
              binary_1x1: bool = False) -> nn.Module:
    """The HPM hourglass, float or binary; ``binary_1x1`` binarises its 1x1 convs too (the
    per-stack ``features`` / ``merge`` convs and the projection skips, each behind a BatchNorm,
    as configs/pose/binary_hg_mpii_binary_1x1.py); the 7x7 stem and heatmap convs stay real."""
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS
    conv = dict(type='BinaryConv2d', scale='learned', scale_shape='channel') if binary \
        else None
    block = dict(type='HPMBlock', conv_cfg=conv, act_cfg=None if binary else dict(type='ReLU'))
    ones = {}
    if binary_1x1:
        block.update(skip_conv_cfg=conv, skip_act_cfg=None)
        ones = dict(feature_conv_cfg=conv, feature_pre_norm=True)
    # mmpose's scope whatever the caller's default scope is (a test may have set another)
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(
            dict(type='StackedHourglass',
                 num_stacks=stacks,
                 depth=depth,
                 channels=channels,
                 out_channels=16,
                 stem_channels=(64, 128),
                 block=block,
                 **ones))
    return fast_pooling(model.eval())


# --models: the binary hourglass variants, each timed against the same float hourglass
# (name -> options of hourglass(), the row's name suffix)
HOURGLASS_VARIANTS = {
    'hourglass': ({}, ''),
    'hourglass_binary_1x1': (dict(binary_1x1=True),
                             ', binary 1x1 convs (features, merges, projection skips)'),
}


def resnet(binary: bool) -> nn.Module:
    import timm
    return fast_pooling(
        timm.create_model('binary_resnet18_channel' if binary else 'real_bireal_resnet18',
                          num_classes=1000).eval())


def is_chained(m: nn.Module) -> bool:
    """A block that runs fused (plugins/deploy/chain.py, basic_block_chain.py), or a stage
    whose fused blocks pass sign bits to each other (it calls them without their hooks)."""
    return 'forward' in m.__dict__


def layer_kind(m: nn.Module) -> str:
    """The profile row of a leaf module."""
    from plugins.deploy.exact_conv1x1 import (Conv1x1Norm, fused_sequential_forward,
                                              preact_block_forward)
    if getattr(m.__dict__.get('forward'), 'func', None) is fused_sequential_forward:
        return ('Sequential with real 1x1 conv (and BatchNorm / ReLU around it) in C++ '
                '(exact_conv1x1), and the rest of it')
    if getattr(m.__dict__.get('forward'), 'func', None) is preact_block_forward:
        return 'pre-activation BatchNorm -> ReLU -> real 1x1 conv in C++ (exact_conv1x1)'
    if isinstance(m.__dict__.get('forward'), Conv1x1Norm):
        return 'real 1x1 conv in C++ (exact_conv1x1)'
    if is_chained(m) and type(m) is nn.Sequential:
        return ('fused Bi-Real stages (binary convs, norms, activations, residual, and the '
                'real downsample shortcuts)')
    if is_chained(m):
        return (f'fused {type(m).__name__} (binary convs, norms, activations, residual'
                f'{", concatenation" if type(m).__name__ == "HPMBlock" else ""})')
    if isinstance(m, PackedBinaryConv2d):
        return 'packed binary conv'
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        return 'real conv / linear'
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return 'BatchNorm'
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
        return 'pooling'
    if isinstance(m, nn.Upsample):
        return 'upsampling'
    if isinstance(m, (nn.ReLU, nn.PReLU, nn.Hardtanh, nn.LeakyReLU)) or \
            'PReLU' in type(m).__name__ or 'Slope' in type(m).__name__:
        return 'activation'
    return f'other module ({type(m).__name__})'


def profile_kinds(model: nn.Module, x: torch.Tensor, rounds: int) -> Dict[str, float]:
    """Process CPU seconds per forward spent in each kind of leaf module; the rest of the
    forward (additions, concatenation, upsampling and other functional code between modules,
    Python overhead) is ``'between modules'``."""
    spent: Dict[str, float] = {}
    stack: List[float] = []
    chained = [m for m in model.modules() if is_chained(m)]
    inside = {id(c) for m in chained for c in m.modules() if c is not m}
    chained = [m for m in chained if id(m) not in inside]  # the outermost fused modules
    leaves = chained + [m for m in model.modules() if id(m) not in inside and not is_chained(m)
                        and (isinstance(m, PackedBinaryConv2d) or not list(m.children()))]
    inner = {id(c) for m in leaves if isinstance(m, PackedBinaryConv2d) for c in m.modules()
             if c is not m}
    handles = []
    for m in leaves:
        if id(m) in inner or isinstance(m, nn.Identity):
            continue
        kind = layer_kind(m)
        handles.append(m.register_forward_pre_hook(lambda *_: stack.append(time.process_time())))
        handles.append(m.register_forward_hook(
            lambda *_, k=kind: spent.__setitem__(k, spent.get(k, 0.0) + time.process_time() -
                                                 stack.pop())))
    total = 0.0
    try:
        with torch.no_grad():
            model(x)
            spent.clear()
            for _ in range(rounds):
                t = time.process_time()
                model(x)
                total += time.process_time() - t
    finally:
        for h in handles:
            h.remove()
    out = {k: v / rounds for k, v in spent.items()}
    out['between modules'] = total / rounds - sum(out.values())
    out['total'] = total / rounds
    return out


def bench_model(name, real, binary, x, rounds):
    packed = export_binary(binary)
    unchained = export_binary(binary, chain=False)
    with torch.no_grad():
        packed(x)
    t = interleaved(
        {
            'float': lambda: real(x),
            'fake-binary': lambda: binary(x),
            'packed': lambda: packed(x),
            'unchained': lambda: unchained(x)
        },
        rounds,
        warmup=1,
        label=f'{name}, batch {x.shape[0]}')
    # back to back: each model's forwards in a row (a deployed model's steady state); above,
    # every forward follows the other models', whose weights (47-49 MB for the float ones)
    # evict the packed model's from the caches
    steady = interleaved({'float': lambda: real(x), 'packed': lambda: packed(x)}, rounds,
                         warmup=1, label=f'{name}, batch {x.shape[0]}, back to back', repeat=4)
    t.update({f'{k} steady': v for k, v in steady.items() if not k.endswith('cpu')})
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'model.bnn')
        save_packed(packed, path)
        sizes = size_report(binary, path)
    buf = io.BytesIO()
    torch.save(real.state_dict(), buf)
    sizes['real_float_bytes'] = len(buf.getvalue())
    return t, sizes


def stage_times(real: nn.Module, packed: nn.Module, x: torch.Tensor,
                rounds: int) -> Dict[str, List[float]]:
    """Wall seconds of each top-level child (stage) of the float and the packed model, per
    forward: ``[float, packed right after the float model, packed right after itself]``
    (medians over ``rounds``). Each round runs ``real(x)``, ``packed(x)``, ``packed(x)``; the
    second column is what the default column of the model table sees (the float model's 47-49
    MB of weights have just gone through the caches), the third the back-to-back one. Children
    are matched by name (both models come from one definition); a child missing from the float
    model has no float time (NaN)."""
    times: Dict[str, List[List[float]]] = {}
    start: Dict[str, float] = {}
    handles = []
    column = [0]  # where the running forward's times go: 0 float, 1 packed cold, 2 back to back

    def stages(model: nn.Module):
        """Top-level children; those of a ModuleList / ModuleDict (never called itself)."""
        for name, child in model.named_children():
            if isinstance(child, (nn.ModuleList, nn.ModuleDict)):
                yield from ((f'{name}.{n}', c) for n, c in child.named_children())
            else:
                yield name, child

    for model in (real, packed):
        for name, child in stages(model):
            times.setdefault(name, [[], [], []])
            handles.append(child.register_forward_pre_hook(
                lambda *_, n=name: start.__setitem__(n, time.perf_counter())))
            handles.append(child.register_forward_hook(
                lambda *_, n=name: times[n][column[0]].append(time.perf_counter() - start[n])))
    try:
        with torch.no_grad():
            for r in range(rounds + 1):
                for column[0], model in enumerate((real, packed, packed)):
                    model(x)
                if r == 0:  # warm-up round
                    for v in times.values():
                        for col in v:
                            col.clear()
    finally:
        for h in handles:
            h.remove()
    return {n: [statistics.median(c) if c else float('nan') for c in times[n]]
            for n, _ in stages(packed)}


def context_times(real: nn.Module, packed: nn.Module, x: torch.Tensor, rounds: int,
                  busy_s: float = 0.015) -> Dict[str, float]:
    """Median wall seconds of one packed forward right after each kind of other work, in a
    shuffled order per round: the float model's forward (the default column), ``busy_s`` of
    in-cache float matmuls (AVX-512 FMA on this machine), a 64 MB memory pass, ``busy_s`` of
    sleep, ``busy_s`` of int32 xor over 4 MB, and the packed model itself (back to back).
    What separates the default column from the back-to-back one: whether the penalty follows
    the float model only or any other work."""
    import random
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    big = torch.zeros(16 << 20)
    words = torch.zeros(1 << 20, dtype=torch.int32)

    def busy(fn):
        def run():
            t = time.perf_counter()
            while time.perf_counter() - t < busy_s:
                fn()
        return run

    before = {
        'the float model': lambda: real(x),
        'in-cache float matmuls': busy(lambda: torch.mm(a, b)),
        'a 64 MB memory pass': lambda: big.add_(1.0),
        'a sleep': lambda: time.sleep(busy_s),
        'int32 xor over 4 MB': busy(lambda: words.bitwise_xor_(7)),
        'the packed model (back to back)': lambda: packed(x),
    }
    times: Dict[str, List[float]] = {k: [] for k in before}
    with torch.no_grad():
        for _ in range(2):
            real(x)
            packed(x)
        for r in range(rounds):
            order = list(before)
            random.Random(r).shuffle(order)
            for k in order:
                before[k]()
                t = time.perf_counter()
                packed(x)
                times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


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
    p.add_argument('--no-layers', action='store_true', help='whole models only')
    p.add_argument('--batches', type=int, nargs='+', default=[1], help='batch sizes')
    p.add_argument('--profile', action='store_true',
                   help='per-layer-kind breakdown of the float and packed models')
    p.add_argument('--int8', action='store_true',
                   help='also time oneDNN\'s int8 convolution (AMX / VNNI) of the same signs '
                   'in the layer table, for comparison (it is not the packed path)')
    p.add_argument('--stages', action='store_true',
                   help='per-stage (top-level child) wall time of the float model, and of the '
                   'packed model right after the float one and back to back')
    p.add_argument('--contexts', action='store_true',
                   help='packed forward time right after different kinds of other work (the '
                   'float model, float matmuls, a memory pass, a sleep, integer work, itself)')
    p.add_argument('--layers', nargs='+', default=None, metavar='TEXT',
                   help='only the layer cases whose name contains one of these (e.g. "256->256")')
    p.add_argument('--models', nargs='+', default=['hourglass', 'resnet18'],
                   choices=[*HOURGLASS_VARIANTS, 'resnet18'],
                   help='whole models to time (hourglass_binary_1x1: the binary hourglass with '
                   'its 1x1 convs binary too, against the same float hourglass)')
    add_heap_argument(p, default='warm')
    args = p.parse_args(argv)
    if args.int8 and not int8_conv_available():
        p.error('--int8: this torch build has no exact oneDNN int8 convolution '
                '(torch.ops.onednn.qconv2d_pointwise)')
    heap = use_heap(args.heap)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.isa is not None:
        os.environ['PLUGINS_DEPLOY_ISA'] = str(args.isa)
    rounds = args.rounds or (5 if args.quick else 15)
    isa = args.isa if args.isa is not None else best_isa()
    print(f'# torch {torch.__version__}, threads {torch.get_num_threads()}, kernel '
          f'{ISA_NAMES[isa]}, rounds {rounds}, {heap}, cpu {os.cpu_count()} cores, load average '
          + ', '.join(f'{v:.1f}' for v in os.getloadavg()))
    layers = [] if args.no_layers else HOURGLASS_LAYERS + RESNET_LAYERS
    if args.quick:
        layers = [row for row in layers if row[0] in QUICK_LAYERS]
    if args.layers:
        layers = [row for row in layers if any(t in row[0] for t in args.layers)]
    int8 = ' | oneDNN int8 ms | int8 speed-up (wall)' if args.int8 else ''
    if layers:
        print('| case | batch | float conv ms | packed binary ms | speed-up (wall) | '
              f'speed-up (CPU time){int8} |')
        print('|---|---:|---:|---:|---:|---:|' + ('---:|---:|' if int8 else ''))
    for batch in args.batches if layers else []:
        for name, c, o, k, s, hw in layers:
            t = bench_layer(c, o, k, s, hw, rounds, batch, args.int8)
            extra = (f' {t["int8"] * 1e3:.2f} | {t["float"] / t["int8"]:.1f}x |'
                     if args.int8 else '')
            print(
                f'| {name} | {batch} | {t["float"] * 1e3:.2f} | {t["packed"] * 1e3:.2f} | '
                f'{t["float"] / t["packed"]:.1f}x | '
                f'{t["float cpu"] / t["packed cpu"]:.1f}x |{extra}',
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
    models = []
    variants = [v for v in HOURGLASS_VARIANTS if v in args.models]
    real_hg = hourglass(False, **hg) if variants else None
    for v in variants:
        options, suffix = HOURGLASS_VARIANTS[v]
        models.append((f'binary HPM hourglass {hg["stacks"]}x{hg["channels"]}ch d{hg["depth"]} '
                       f'@{hw}{suffix}', real_hg, hourglass(True, **hg, **options),
                       (3, hw, hw)))
    if 'resnet18' in args.models:
        models.append(('binary ResNet-18 (Bi-Real layout) @224', resnet(False), resnet(True),
                       (3, 224, 224)))
    print('\n| model | batch | float ms | fake-binary ms | packed ms | speed-up vs float '
          '(wall) | (CPU time) | packed unchained ms | unchained speed-up (CPU time) | '
          'back to back: float ms | packed ms | speed-up | '
          'float ckpt MB | packed file MB | size ratio |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for batch in args.batches:
        for name, real, binary, shape in models:
            x = torch.randn(batch, *shape)
            t, sz = bench_model(name, real, binary, x, max(3, rounds // 3))
            print(
                f'| {name} | {batch} | {t["float"] * 1e3:.1f} | {t["fake-binary"] * 1e3:.1f} | '
                f'{t["packed"] * 1e3:.1f} | {t["float"] / t["packed"]:.1f}x | '
                f'{t["float cpu"] / t["packed cpu"]:.1f}x | {t["unchained"] * 1e3:.1f} | '
                f'{t["float cpu"] / t["unchained cpu"]:.1f}x | '
                f'{t["float steady"] * 1e3:.1f} | {t["packed steady"] * 1e3:.1f} | '
                f'{t["float steady"] / t["packed steady"]:.1f}x | '
                f'{sz["float_bytes"] / 1e6:.2f} | {sz["packed_file_bytes"] / 1e6:.3f} | '
                f'{sz["ratio"]:.1f}x |',
                flush=True)
    if args.stages:
        for name, real, binary, shape in models:
            st = stage_times(real, export_binary(binary), torch.randn(1, *shape),
                             max(5, rounds))
            print(f'\nstages, {name}, batch 1 (wall ms per forward, medians)')
            print('| stage | float ms | packed ms after the float model | packed ms back to '
                  'back | float / packed (back to back) |')
            print('|---|---:|---:|---:|---:|')
            for stage, (f, cold, warm) in st.items():
                print(f'| {stage} | {f * 1e3:.3f} | {cold * 1e3:.3f} | {warm * 1e3:.3f} | '
                      f'{f / warm:.1f}x |', flush=True)
            tot = [sum(v[i] for v in st.values()) for i in range(3)]
            print(f'| sum | {tot[0] * 1e3:.3f} | {tot[1] * 1e3:.3f} | {tot[2] * 1e3:.3f} | '
                  f'{tot[0] / tot[2]:.1f}x |', flush=True)
    if args.contexts:
        for name, real, binary, shape in models:
            ct = context_times(real, export_binary(binary), torch.randn(1, *shape),
                               max(10, rounds))
            print(f'\npacked forward after other work, {name}, batch 1 (wall ms, medians)')
            print('| right after | packed ms |\n|---|---:|')
            for k, v in ct.items():
                print(f'| {k} | {v * 1e3:.3f} |', flush=True)
    if args.profile:
        for name, real, binary, shape in models:
            x = torch.randn(1, *shape)
            prof = {'float': profile_kinds(real, x, max(2, rounds // 5)),
                    'packed': profile_kinds(export_binary(binary), x, max(2, rounds // 5))}
            kinds = sorted((set(prof['float']) | set(prof['packed'])) - {'total'},
                           key=lambda k: -prof['packed'].get(k, 0))
            print(f'\nwhere the time goes, {name}, batch 1 (process CPU ms per forward)')
            print('| layer kind | float model ms | packed model ms | share of packed |')
            print('|---|---:|---:|---:|')
            for k in kinds + ['total']:
                f, q = prof['float'].get(k, 0.0), prof['packed'].get(k, 0.0)
                print(f'| {k} | {f * 1e3:.1f} | {q * 1e3:.1f} | '
                      f'{q / prof["packed"]["total"]:.0%} |', flush=True)


if __name__ == '__main__':
    main()
