"""Train pose configs for the same wall-clock budget; PCKh against training seconds.

Equal iterations hide large differences in cost per iteration, so every config here gets the
same *seconds* of training on this machine:

1. calibration, one of two kinds (``--calibrate``):

   - ``steps`` (default): the configs' training steps (forward, loss, backward, Adam step on a
     batch of the config's size) run interleaved in one process, several rounds, with the
     threads each training will use; the median seconds per step of each config is its cost;
   - ``train``: a short real training of each config (``tools/train.py``, ``--calib-iters``
     iterations, no validation), run exactly as the measured runs are (``--parallel`` at a
     time, ``--threads`` each, the real data pipeline and hooks); the cost is the mean logged
     iteration time after the first logging window. It counts what a step costs in a real run,
     including the per-iteration work that is the same for every model (data, hooks, logging):
     compute-only timing overstates the cost ratio of two models by leaving that out (measured:
     1.38x from steps against 1.19x in the runs themselves, README "Main job");
2. the reference (first) config trains ``--iters`` iterations; every other config trains
   ``iters * cost(reference) / cost(config)``, i.e. the same seconds of computation;
3. each run is ``tools/train.py CONFIG --cfg-options max_iters=N randomness.seed=S
   val_interval=ceil(N / val_points)`` (the lr step follows ``max_iters``,
   configs/_base_/schedules/pose_iters.py), ``--parallel`` runs at a time with ``--threads``
   torch threads each;
4. the learning curves (PCKh@0.5 of each validation against the training seconds measured in
   that run, validation time excluded) go to ``curves.png``, the table (mean +- std over the
   seeds) to ``table.md`` and everything to ``results.json``.

    python tools/benchmark_walltime.py configs/pose/binary_hg_mpii.py configs/pose/hg_mpii.py \\
        --iters 600 --seeds 0 1 2 --parallel 2 --threads 1 --work-dir work_dirs/walltime

Configs must be iteration-based with a ``max_iters`` variable (the MPII pose configs are).
"""
from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('configs', nargs='+', help='pose configs; the first is the reference')
    p.add_argument('--iters', type=int, default=600, help="the reference config's iterations")
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--parallel', type=int, default=1, help='trainings at a time')
    p.add_argument('--threads', type=int, default=1, help='torch threads of each training')
    p.add_argument('--workers', type=int, default=1, help='dataloader workers of each training')
    p.add_argument('--rounds', type=int, default=5, help='calibration rounds')
    p.add_argument('--val-points', type=int, default=4,
                   help='validations per run (the learning curve; the last at the end)')
    p.add_argument('--calibrate', choices=['steps', 'train'], default='steps',
                   help='how the seconds per step are measured (module docstring)')
    p.add_argument('--calib-iters', type=int, default=30,
                   help='iterations of each calibration training (--calibrate train)')
    p.add_argument('--cost', nargs='+', default=None, metavar='CONFIG=SECONDS',
                   help='skip the calibration: seconds per step of each config')
    p.add_argument('--names', nargs='+', default=None, help='row names (default: file names)')
    p.add_argument('--reuse', action='store_true',
                   help='keep the runs and the calibration already finished in the work dir '
                   '(continue a benchmark at the same budget)')
    p.add_argument('--report-only', action='store_true',
                   help='train nothing: tabulate the finished runs in the work dir (a row '
                   'lists the seeds it has)')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='extra key=value overrides passed to every training')
    p.add_argument('--work-dir', default='work_dirs/benchmark_walltime')
    return p.parse_args(argv)


def calibrate(configs: List[str], threads: int, rounds: int) -> Dict[str, float]:
    """Median seconds per training step of each config, steps interleaved across configs."""
    import torch
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import plugins  # noqa: F401
    from plugins.engine.config_rebind import load_config
    torch.set_num_threads(threads)
    init_default_scope('mmpose')
    runs = []
    for path in configs:
        cfg = load_config(path)
        model = MODELS.build(copy.deepcopy(cfg.model)).train()
        batch = cfg.train_dataloader.batch_size
        h, w = cfg.codec.input_size[::-1] if 'codec' in cfg else (256, 256)
        x = torch.randn(batch, 3, h, w)
        opt = torch.optim.Adam(model.parameters(), 1e-4)
        runs.append((path, model, opt, x))

    def step(model, opt, x) -> None:
        outs = model(x, None, mode='tensor')
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        loss = sum(o.float().pow(2).mean() for o in outs)
        opt.zero_grad()
        loss.backward()
        opt.step()

    times: Dict[str, list] = {path: [] for path in configs}
    for r in range(rounds + 1):  # round 0 warms up
        for path, model, opt, x in runs:
            t = time.perf_counter()
            step(model, opt, x)
            if r:
                times[path].append(time.perf_counter() - t)
    return {path: statistics.median(ts) for path, ts in times.items()}


def calibrate_by_training(configs: List[str], args) -> Dict[str, float]:
    """Mean seconds per iteration of a short real training of each config (``--calibrate
    train``), the first logging window (start-up, first batches) left out. With ``--reuse``
    a calibration already on disk is read instead of run again, so that finishing a missing
    seed keeps the other seeds' budget."""
    interval = max(1, args.calib_iters // 6)
    jobs = [(f'calib{i}', path, args.calib_iters, 0,
             osp.join(args.work_dir, '_calibration', f'{i}_' +
                      osp.splitext(osp.basename(path))[0]))
            for i, path in enumerate(configs)]
    opts = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
            f'default_hooks.logger.interval={interval}',
            'default_hooks.checkpoint.save_last=False',
            'default_hooks.checkpoint.interval=1000000']
    if args.reuse:
        try:
            return {path: _iteration_cost(work) for _, path, _, _, work in jobs}
        except (FileNotFoundError, ValueError):
            pass
    run_all(jobs, argparse.Namespace(**{**vars(args), 'reuse': False,
                                        'cfg_options': [*args.cfg_options, *opts]}))
    try:
        return {path: _iteration_cost(work) for _, path, _, _, work in jobs}
    except ValueError as err:
        raise ValueError(f'{err}; raise --calib-iters (now {args.calib_iters})') from None


def _scalars(work_dir: str) -> List[dict]:
    """The records of the newest run's mmengine ``vis_data/scalars.json`` under
    ``work_dir``."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no vis_data/scalars.json under {work_dir}')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def _iteration_cost(work_dir: str) -> float:
    """Mean seconds per training iteration of a calibration run, its first logging window
    left out."""
    times = [rec['time'] for rec in _scalars(work_dir) if 'loss' in rec and 'time' in rec]
    if len(times) < 2:
        raise ValueError(f'the calibration in {work_dir} logged {len(times)} window(s)')
    return statistics.mean(times[1:])


def read_curve(work_dir: str) -> dict:
    """PCKh of every validation of a run against its cumulative training seconds.

    mmengine's scalars.json holds, every ``LoggerHook.interval`` iterations, the mean
    iteration time of the window; the training seconds up to a step are their sum. A point's
    step is the last logged training step before the validation.
    """
    train_s, last_step, points, final = 0.0, 0, [], {}
    for rec in _scalars(work_dir):
        if 'loss' in rec and 'time' in rec:
            train_s += rec['time'] * (rec['step'] - last_step)
            last_step = rec['step']
        elif 'PCK' in rec:  # validation records carry the epoch (0) as their step
            points.append((last_step, round(train_s, 2), rec['PCK']))
            final = {k: v for k, v in rec.items() if 'PCK' in k}
    if not points:
        raise ValueError(f'{work_dir} holds no validation (PCK) record')
    return dict(points=points, final=final, train_s=points[-1][1])


def train(path: str, iters: int, seed: int, work_dir: str, args) -> subprocess.Popen:
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), path, '--work-dir', work_dir,
           '--threads', str(args.threads), '--cfg-options', f'max_iters={iters}',
           f'val_interval={-(-iters // args.val_points)}',
           f'randomness.seed={seed}', f'train_dataloader.num_workers={args.workers}',
           f'val_dataloader.num_workers={args.workers}',
           f'train_dataloader.persistent_workers={args.workers > 0}',
           f'val_dataloader.persistent_workers={args.workers > 0}', *args.cfg_options]
    os.makedirs(work_dir, exist_ok=True)
    log = open(osp.join(work_dir, 'train.log'), 'w')
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def _complete(job: tuple) -> bool:
    """Whether ``job``'s work dir holds a finished run: its last checkpoint and a curve."""
    if not osp.isfile(osp.join(job[4], f'iter_{job[2]}.pth')):
        return False
    try:
        return bool(read_curve(job[4])['points'])
    except (FileNotFoundError, ValueError):
        return False


def run_all(jobs: list, args) -> None:
    """Run ``(name, path, iters, seed, work_dir)`` jobs, ``args.parallel`` at a time."""
    pending, running = [j for j in jobs if not (args.reuse and _complete(j))], []
    while pending or running:
        while pending and len(running) < args.parallel:
            job = pending.pop(0)
            print(f'[walltime] start {job[0]} seed {job[3]}: {job[2]} iterations', flush=True)
            running.append((job, train(*job[1:], args)))
        time.sleep(2)
        for item in list(running):
            job, proc = item
            if proc.poll() is not None:
                running.remove(item)
                if proc.returncode:
                    raise RuntimeError(f'training {job[1]} (seed {job[3]}) failed with exit '
                                       f'code {proc.returncode}; see {job[4]}/train.log')
                print(f'[walltime] done {job[0]} seed {job[3]}', flush=True)


def summarise(rows: list) -> str:
    def ms(values: list) -> str:
        if len(values) == 1:
            return f'{values[0]:.1f}'
        return f'{statistics.mean(values):.1f} +- {statistics.stdev(values):.1f}'
    lines = ['| model | s/iter (calibrated) | iterations | train s (measured) | PCKh@0.5 | '
             'per seed (seeds) |', '|---|---|---|---|---|---|']
    for r in rows:
        pck = [run['final']['PCK'] for run in r['runs']]
        secs = [run['train_s'] for run in r['runs']]
        lines.append(f"| {r['name']} | {r['cost']:.3f} | {r['iters']} | "
                     f"{statistics.mean(secs):.0f} | {ms(pck)} | "
                     f"{', '.join(f'{p:.1f}' for p in pck)} "
                     f"({', '.join(str(run['seed']) for run in r['runs'])}) |")
    return '\n'.join(lines)


def plot(rows: list, path: str, title: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for i, r in enumerate(rows):
        color = f'C{i}'
        for j, run in enumerate(r['runs']):
            xs = [0] + [p[1] for p in run['points']]
            ys = [0] + [p[2] for p in run['points']]
            ax.plot(xs, ys, '-o', color=color, ms=3, alpha=0.85,
                    label=r['name'] if j == 0 else None)
    ax.set_xlabel('training seconds on this machine (validation excluded)')
    ax.set_ylabel('PCKh@0.5 (%)')
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> list:
    args = parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    names = args.names or [osp.splitext(osp.basename(c))[0] for c in args.configs]
    if len(names) != len(args.configs):
        raise ValueError(f'--names has {len(names)} entries for {len(args.configs)} configs')
    if args.cost:
        given = dict(c.rsplit('=', 1) for c in args.cost)
        cost = {c: float(given[c]) for c in args.configs}
    elif args.calibrate == 'train':
        print(f'[walltime] calibrating {len(args.configs)} configs by {args.calib_iters} '
              'training iterations each', flush=True)
        cost = calibrate_by_training(args.configs, args)
    else:
        print(f'[walltime] calibrating {len(args.configs)} configs, {args.rounds} rounds',
              flush=True)
        cost = calibrate(args.configs, args.threads, args.rounds)
    ref = cost[args.configs[0]]
    rows = [dict(name=n, config=c, cost=cost[c], iters=max(1, round(args.iters * ref / cost[c])))
            for n, c in zip(names, args.configs)]
    for r in rows:
        print(f"[walltime] {r['name']}: {r['cost']:.3f} s/step -> {r['iters']} iterations",
              flush=True)
    jobs = [(r['name'], r['config'], r['iters'], seed,
             osp.join(args.work_dir, r['name'], f'seed{seed}'))
            for seed in args.seeds for r in rows]
    if args.report_only:
        jobs = [j for j in jobs if _complete(j)]
    else:
        run_all(jobs, args)
    for r in rows:
        r['runs'] = [dict(seed=j[3], **read_curve(j[4])) for j in jobs if j[0] == r['name']]
    rows = [r for r in rows if r['runs']]
    budget = (f'budget: {args.iters} iterations of {names[0]} = {args.iters * ref:.0f} s of '
              f'calibrated training; {args.threads} thread(s) per run, {args.parallel} run(s) '
              f'at a time; seeds {args.seeds}')
    table = summarise(rows)
    with open(osp.join(args.work_dir, 'table.md'), 'w') as f:
        f.write(table + '\n\n' + budget + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(args=vars(args), budget=budget, rows=rows), f, indent=1)
    plot(rows, osp.join(args.work_dir, 'curves.png'), budget)
    print(table)
    print(budget)
    print(f"[walltime] curves: {osp.join(args.work_dir, 'curves.png')}")
    return rows


if __name__ == '__main__':
    main()
