"""Benchmark the hourglass family against MMPose's zoo models (issue 4).

For each entry prints parameters (real / binary), packed size, FLOPs, BOPs, FLOPs+BOPs/64,
CPU latency (median, batch 1, 256x256) and -- unless ``--no-train`` -- PCKh@0.5 on the
embedded MPII validation split after the same short training budget for every model::

    python tools/benchmark_pose.py                       # full table (~1 h on 2 free cores)
    python tools/benchmark_pose.py --quick               # smoke run: 10 iters, 3 timings
    python tools/benchmark_pose.py --only hg_mpii binary_hg_mpii --iters 300

Results go to ``<work-dir>/benchmark.md`` and ``benchmark.json`` (one row per model, the
training wall time included so the budget can be compared).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

import plugins  # noqa: E402,F401
from plugins.engine.progress import track  # noqa: E402
from plugins.engine.config_rebind import load_config, merge_cfg_options  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from plugins.analysis import complexity  # noqa: E402

# name -> (config, what it is, train it?)
ENTRIES = {
    'hg_mpii': ('configs/pose/hg_mpii.py', 'HG, bottleneck, real', True),
    'binary_bottleneck_hg_mpii': ('configs/pose/binary_bottleneck_hg_mpii.py',
                                  'HG, bottleneck, binary, no scale', True),
    'binary_hpm_noscale_hg_mpii': ('configs/pose/binary_hpm_noscale_hg_mpii.py',
                                   'HG, HPM, binary, no scale', True),
    'binary_hg_mpii': ('configs/pose/binary_hg_mpii.py',
                       'HG, HPM, binary, learned scale (main job)', True),
    'gated_hg_mpii': ('configs/pose/gated_hg_mpii.py',
                      'HG, HPM soft-gated, binary, learned scale', True),
    'hybrid_hg_mpii': ('configs/pose/hybrid_hg_mpii.py',
                       'HG/U-Net hybrid soft-gated, binary, learned scale', True),
    'real_hybrid_hg_mpii': ('configs/pose/real_hybrid_hg_mpii.py',
                            'HG/U-Net hybrid soft-gated, real', True),
    'mmpose_hourglassnet_mpii': ('configs/pose/mmpose_hourglassnet_mpii.py',
                                 "MMPose HourglassNet (narrowed) + CPMHead", True),
    'mmpose_hourglassnet_stock': ('configs/pose/mmpose_hourglassnet_mpii.py',
                                  'MMPose HourglassNet hourglass52 (stock width), no training',
                                  False),
    'resnet_mpii_embedded': ('configs/pose/resnet_mpii_embedded.py',
                             'MMPose ResNet-18/32 top-down (stock)', True),
}
STOCK_HOURGLASS52 = dict(type='HourglassNet', downsample_times=5, num_stacks=1,
                         stage_channels=(256, 256, 384, 384, 384, 512),
                         stage_blocks=(2, 2, 2, 2, 2, 4), feat_channel=256)


def load_cfg(name: str, args) -> Config:
    path, _, _ = ENTRIES[name]
    cfg = load_config(path)
    if name == 'mmpose_hourglassnet_stock':
        cfg.model.backbone = Config(STOCK_HOURGLASS52)
        cfg.model.head.in_channels = 256
    if args.cfg_options:
        merge_cfg_options(cfg, args.cfg_options)
    return cfg


def build_model(cfg: Config):
    from mmpose.registry import MODELS
    return MODELS.build(copy.deepcopy(cfg.model))


def measure(cfg: Config, size: int, runs: int) -> dict:
    """Complexity at (1, 3, size, size) and the median CPU latency of backbone + head."""
    model = build_model(cfg).eval()
    fwd = lambda m, x: m(x, None, mode='tensor')  # noqa: E731
    rep = complexity(model, (1, 3, size, size), forward=fwd)
    x = torch.randn(1, 3, size, size)
    times = []
    with torch.no_grad():
        fwd(model, x)  # warm-up
        for _ in range(runs):
            t = time.perf_counter()
            fwd(model, x)
            times.append(time.perf_counter() - t)
    out = rep.as_dict()
    out.update(latency_ms=1000 * statistics.median(times))
    return out


def train_and_eval(name: str, cfg: Config, args) -> dict:
    """Train for ``args.iters`` iterations (same schedule for all) and evaluate PCKh."""
    from mmengine.runner import Runner
    it = args.iters
    cfg.work_dir = osp.join(args.work_dir, name)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=it, val_interval=it)
    cfg.param_scheduler = [
        dict(type='LinearLR', begin=0, end=min(50, it), start_factor=0.01, by_epoch=False),
        dict(type='MultiStepLR', begin=0, end=it, milestones=[int(it * 0.8)], gamma=0.1,
             by_epoch=False)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=it, by_epoch=False,
                                        max_keep_ckpts=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=max(1, it // 10))
    cfg.log_processor = dict(type='LogProcessor', window_size=10, by_epoch=False)
    cfg.randomness = dict(seed=args.seed)
    cfg.train_dataloader.batch_size = args.batch_size
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].num_workers = args.workers
        cfg[key].persistent_workers = args.workers > 0
    if args.val_subset:
        cfg.val_dataloader.dataset.indices = args.val_subset
    cfg.test_dataloader = cfg.val_dataloader
    if it == 0:  # the untrained network (its init_cfg applied): the chance level
        cfg.train_cfg = cfg.train_dataloader = cfg.optim_wrapper = cfg.param_scheduler = None
        runner = Runner.from_cfg(cfg)
        runner.model.init_weights()
        metrics = {k: float(v) for k, v in runner.val().items()}
        metrics['PCKh'] = metrics.get('PCK')
        return dict(train_s=0.0, **metrics)
    runner = Runner.from_cfg(cfg)
    start = time.time()
    runner.train()  # validates once, at the last iteration
    train_s = time.time() - start
    hub = runner.message_hub
    metrics = {k[4:]: float(v.current()) for k, v in hub.log_scalars.items()
               if k.startswith('val/') and 'time' not in k}
    metrics['PCKh'] = metrics.get('PCK')  # MpiiPCKAccuracy's 'PCK' is PCKh@0.5
    return dict(train_s=train_s, **metrics)


def fmt_table(rows: list) -> str:
    head = ('model', 'what', 'real params', 'binary params', 'packed', 'GFLOPs', 'GBOPs',
            'GFLOPs+BOPs/64', 'latency ms', 'PCKh@0.5', 'train s')
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        pck = r.get('PCKh')
        lines.append('| ' + ' | '.join([
            r['name'], r['what'], f"{r['real_params'] / 1e6:.3f}M",
            f"{r['binary_params'] / 1e6:.3f}M", f"{r['packed_bytes'] / 2**20:.2f} MiB",
            f"{r['flops'] / 1e9:.2f}", f"{r['bops'] / 1e9:.2f}", f"{r['ops'] / 1e9:.2f}",
            f"{r['latency_ms']:.1f}", '-' if pck is None else f'{pck:.1f}',
            '-' if 'train_s' not in r else f"{r['train_s']:.0f}"]) + ' |')
    return '\n'.join(lines)


def parse_args(argv=None):
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--only', nargs='+', choices=sorted(ENTRIES), help='subset of entries')
    p.add_argument('--iters', type=int, default=300,
                   help='training iterations per model (0: evaluate the untrained network)')
    p.add_argument('--batch-size', type=int, default=16)
    p.add_argument('--workers', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=0, help='torch threads (0 = default)')
    p.add_argument('--size', type=int, default=256, help='latency/complexity input side')
    p.add_argument('--runs', type=int, default=20, help='latency repetitions')
    p.add_argument('--val-subset', type=int, default=0,
                   help='evaluate on the first N validation images (0 = all)')
    p.add_argument('--no-train', action='store_true', help='complexity and latency only')
    p.add_argument('--quick', action='store_true',
                   help='smoke run: 10 iterations, 3 timings, 32 val images, 128x128')
    p.add_argument('--work-dir', default='work_dirs/benchmark_pose')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='overrides applied to every config (e.g. data_root=...)')
    args = p.parse_args(argv)
    if args.quick:
        args.iters, args.runs, args.val_subset, args.size = 10, 3, 32, 128
    return args


def main(argv=None) -> list:
    args = parse_args(argv)
    init_default_scope('mmpose')
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.work_dir, exist_ok=True)
    names = args.only or list(ENTRIES)
    rows = []
    for name in track(names, desc='benchmark_pose', unit='config'):
        cfg = load_cfg(name, args)
        row = dict(name=name, what=ENTRIES[name][1], config=ENTRIES[name][0])
        row.update(measure(cfg, args.size, args.runs))
        if ENTRIES[name][2] and not args.no_train:
            row.update(train_and_eval(name, cfg, args))
        rows.append(row)
        print(json.dumps(row), flush=True)
        with open(osp.join(args.work_dir, 'benchmark.json'), 'w') as f:
            json.dump(dict(args=vars(args), rows=rows), f, indent=1)
    table = fmt_table(rows)
    budget = (f'budget: {args.iters} iterations x batch {args.batch_size} (Adam, warm-up 50, '
              f'lr x0.1 at 80%), seed {args.seed}; latency: median of {args.runs}, batch 1, '
              f'{args.size}x{args.size}, torch threads {torch.get_num_threads()}')
    with open(osp.join(args.work_dir, 'benchmark.md'), 'w') as f:
        f.write(table + '\n\n' + budget + '\n')
    print(table)
    print(budget)
    return rows


if __name__ == '__main__':
    main()
