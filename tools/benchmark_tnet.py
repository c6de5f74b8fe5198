"""T-Net vs the uncompressed hourglass on the embedded MPII set: PCKh at several compression
ratios, same training budget.

    python tools/benchmark_tnet.py            # the configs' own budget (hg_mpii's max_iters)
    python tools/benchmark_tnet.py --quick    # 256 training / 128 val images, 40 iterations
    python tools/benchmark_tnet.py --iters 300 --ratios dense 0.3 0.1   # same budget, any length
    python tools/benchmark_tnet.py --seeds 0 1 2 --json tnet.json   # mean and spread over seeds
    python tools/benchmark_tnet.py --table-from tnet_a.json tnet_b.json   # merge saved runs
    python tools/benchmark_tnet.py --ratios 0.1 0.1:in_out 0.1:all_modes:0.1 --baselines

A variant is ``RATIO[:SCHEME[:DROPOUT]]``: the compression ratio (``dense`` = uncompressed),
the rank scheme (a key of ``plugins.tensor.tnet.RANK_SCHEMES``, default the config's) and the
tensor-dropout probability (default the config's).

Every variant is configs/pose/tnet_mpii.py with ``model.backbone.compression`` (and the rank
scheme / tensor dropout) overridden (``dense`` = ``None``: the same network with an
uncompressed weight tensor), plus the
bottleneck hourglass of configs/pose/hg_mpii.py (``--baselines``; T-Net's config inherits
everything but the backbone from it), trained with the same schedule, data, seed and batch
size (``--iters`` sets ``max_iters``; the lr step follows it, see
configs/_base_/schedules/pose_iters.py), then evaluated once (PCKh@0.5 with flip test;
MMPose's ``MpiiPCKAccuracy`` reports it under the key ``'PCK'``). The table gives the
parameters of the weight tensor and of the whole model, PCKh and the training wall time (the
machine may be shared: time is indicative only).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import os.path as osp
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import plugins  # noqa: E402,F401
from plugins.engine.progress import track  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from plugins.engine.config_rebind import load_config  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs/pose/tnet_mpii.py')
BASELINE = osp.join(ROOT, 'configs/pose/hg_mpii.py')


def variant_cfg(base: Config, ratio, seed: int, args: argparse.Namespace,
                work_dir: str) -> Config:
    """A copy of ``base`` set up for the benchmark; ``ratio`` (``'dense'`` or a float string)
    overrides T-Net's compression, ``None`` leaves the model as it is (a baseline config)."""
    cfg = copy.deepcopy(base)
    if ratio is not None:
        parts = ratio.split(':')
        if len(parts) > 3:
            raise ValueError(f'variant {ratio!r}: allowed RATIO[:SCHEME[:DROPOUT]]')
        cfg.model.backbone.compression = None if parts[0] == 'dense' else float(parts[0])
        if len(parts) > 1:
            cfg.model.backbone.rank_scheme = parts[1]
        if len(parts) > 2:
            cfg.model.backbone.tensor_dropout = float(parts[2])
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.default_hooks.checkpoint = None  # nothing to keep
    cfg.default_hooks.logger.interval = 20
    cfg.log_level = 'WARNING'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    if args.train_images:
        cfg.train_dataloader.dataset.indices = args.train_images
    if args.val_images:
        cfg.val_dataloader.dataset.indices = args.val_images
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1  # evaluate once, below
    return cfg


def run(args: argparse.Namespace) -> list:
    torch.set_num_threads(args.threads)
    options = {'max_iters': args.iters} if args.iters else None  # lr step follows
    base = load_config(args.config, options)
    variants = [(osp.basename(path), load_config(path, options), None)
                for path in args.baselines]
    variants += [(ratio, base, ratio) for ratio in args.ratios]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = [(i, v, seed) for seed in args.seeds for i, v in enumerate(variants)]
        for i, (label, config, ratio), seed in track(jobs, desc='benchmark_tnet', unit='run'):
            cfg = variant_cfg(config, ratio, seed, args, osp.join(tmp, f'{i}_{seed}'))
            runner = Runner.from_cfg(cfg)
            backbone = runner.model.backbone
            t0 = time.perf_counter()
            runner.train()
            train_s = time.perf_counter() - t0
            metrics = runner.val()
            pckh = metrics.get('PCK', metrics.get('PCKh', float('nan')))
            is_tnet = hasattr(backbone, 'tensor_params')
            rows.append(dict(ratio=label, ranks=getattr(backbone, 'ranks', None),
                             tensor=backbone.tensor_params() if is_tnet else None,
                             dense=math.prod(backbone.tensor_shape) if is_tnet else None,
                             total=sum(p.numel() for p in runner.model.parameters()),
                             pckh=float(pckh), train_s=train_s, seed=seed,
                             iters=cfg.train_cfg.max_iters))
            print(rows[-1], flush=True)
            if args.json:  # after every run, so that an interrupted benchmark keeps its rows
                with open(args.json, 'w') as f:
                    json.dump(rows, f, indent=1)
    return rows


def markdown(rows: list) -> str:
    """One line per variant (in first-seen order): PCKh mean, sample standard deviation and
    the value of every seed, and the mean training time."""
    by_variant = {}
    for r in rows:
        by_variant.setdefault(r['ratio'], []).append(r)
    lines = ['| variant | ranks (stacks, depth, blocks, convs, in, out, kh, kw) | tensor params | '
             '/ dense | model params | PCKh mean | PCKh std | PCKh per seed | seeds | train s |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for label, runs in by_variant.items():
        r = runs[0]
        ranks = '-' if r['ranks'] is None else ', '.join(str(x) for x in r['ranks'])
        tensor, share = '-', '-'
        if r['tensor'] is not None:
            tensor, share = f'{r["tensor"]:,}', f'{r["tensor"] / r["dense"]:.3f}'
        pckh = [x['pckh'] for x in runs]
        std = f'{statistics.stdev(pckh):.2f}' if len(pckh) > 1 else '-'
        name = label if r['tensor'] is None else f'T-Net {label}'  # baselines: config name
        lines.append(f'| {name} | {ranks} | {tensor} | {share} | {r["total"]:,} | '
                     f'{statistics.mean(pckh):.2f} | {std} | '
                     f'{", ".join(f"{p:.1f}" for p in pckh)} | '
                     f'{", ".join(str(x["seed"]) for x in runs)} | '
                     f'{statistics.mean(x["train_s"] for x in runs):.0f} |')
    return '\n'.join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--ratios', nargs='*', default=['dense', '0.6', '0.3', '0.1', '0.05'],
                        help="variants RATIO[:SCHEME[:DROPOUT]], 'dense' for the uncompressed "
                        'hourglass')
    parser.add_argument('--baselines', nargs='*', default=[BASELINE],
                        help='other configs trained and evaluated with the same budget')
    parser.add_argument('--quick', action='store_true',
                        help='256 train / 128 val images, 40 iterations')
    parser.add_argument('--train-images', type=int, default=None)
    parser.add_argument('--val-images', type=int, default=None)
    parser.add_argument('--iters', type=int, default=None,
                        help="training iterations of every run (default: the configs' "
                        'max_iters); the lr step follows')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0],
                        help="training seeds (randomness.seed); every variant runs with each")
    parser.add_argument('--json', default=None, help='write the rows to this file')
    parser.add_argument('--table-from', nargs='+', default=None, metavar='JSON',
                        help='print the table of rows saved by earlier runs (--json) and exit')
    args = parser.parse_args(argv)
    if args.table_from:
        rows = []
        for path in args.table_from:
            with open(path) as f:
                rows += json.load(f)
        print(markdown(rows))
        return
    if args.quick:
        args.train_images = args.train_images or 256
        args.val_images = args.val_images or 128
        args.iters = args.iters or 40
    print(markdown(run(args)))


if __name__ == '__main__':
    main()
