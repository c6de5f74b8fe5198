"""Several seeds of the two-stage SR pipeline against the bicubic-pairs baseline, with a curve.

    python tools/sr/benchmark_seeds.py --seeds 0 1 2 [--stage1-iters 300] [--stage2-iters 300]
        [--eval-every 100] [--suffix mixed] [--work-dir work_dirs/sr_seeds_mixed] [--resume]

For every seed: trains ``configs/sr/high_to_low_faces64_<suffix>.py`` (stage 1), then
``low_to_high_faces64_<suffix>.py`` on its pairs (the paper's method) and
``low_to_high_bicubic_faces64_<suffix>.py`` (bicubic pairs), all with mmengine's Runner and the
seed in ``randomness``; keeps a checkpoint every ``--eval-every`` iterations and evaluates every
stage-2 checkpoint on the held-out (real LR, HR) pairs: PSNR/SSIM of the SR of the real LR
face to the HR face and the Fréchet patch distance (8x8) of the SR set to the HR set. Stage 1
is scored by the Fréchet patch distance (4x4) of its LR faces to the real LR faces.

Writes ``results.json`` after every run and prints mean +- std (sample std) over seeds per
iteration. ``--resume`` keeps the finished runs of an earlier ``results.json`` in the work dir
made with the same settings (all arguments but ``--seeds``) and runs only the missing ones.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from torch.nn import functional as F  # noqa: E402

import plugins  # noqa: E402,F401
from evidence import fd, paired_scores  # noqa: E402
from plugins.sr import PairedSRDataset, load_trained_generator  # noqa: E402
from plugins.sr.faces_synthetic import ensure_generated  # noqa: E402
from plugins.sr.gan_model import from_net, to_net  # noqa: E402
from plugins.engine.seed_stats import sample_std as _std  # noqa: E402

RUNS = ('stage1', 'ours', 'bicubic_pairs')


def config_path(run: str, suffix: str) -> str:
    name = {'stage1': 'high_to_low_faces64', 'ours': 'low_to_high_faces64',
            'bicubic_pairs': 'low_to_high_bicubic_faces64'}[run]
    return osp.join(ROOT, 'configs', 'sr', f'{name}_{suffix}.py')


def train(cfg_file: str, work_dir: str, iters: int, every: int, seed: int,
          stage1_dir: str = None, batch_size: int = None) -> float:
    cfg = Config.fromfile(cfg_file)
    if batch_size:
        cfg.train_dataloader.batch_size = batch_size
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters + 1           # evaluated below, checkpoint by checkpoint
    cfg.default_hooks.checkpoint.interval = every
    cfg.default_hooks.checkpoint.max_keep_ckpts = -1
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h['type'] != 'SRSampleGridHook']
    if stage1_dir is not None:
        cfg.model.degrader_checkpoint = stage1_dir
    t = time.time()
    Runner.from_cfg(cfg).train()
    return time.time() - t


def checkpoints(work_dir: str) -> list:
    found = glob.glob(osp.join(work_dir, 'iter_*.pth'))
    return sorted(found, key=lambda p: int(re.findall(r'iter_(\d+)', p)[0]))


#: arguments that may differ between a results.json and a run that resumes it
RESUMABLE_DIFFERENCES = ('seeds', 'resume')


def previous_runs(path: str, args: dict) -> dict:
    """The finished runs of an earlier ``results.json`` made with the same settings.

    Args:
        path: the earlier ``results.json`` (missing: no runs).
        args: this invocation's arguments (``vars(namespace)``).

    Returns:
        ``{run_name: result}``, e.g. ``{'ours_seed0': {...}, 'stage1_seed0': {...}}``.

    Raises:
        ValueError: when a setting other than those in ``RESUMABLE_DIFFERENCES`` differs,
            naming it and both values.
    """
    if not osp.exists(path):
        return {}
    with open(path) as f:
        old = json.load(f)
    for key in sorted(set(args) | set(old['args'])):
        if key in RESUMABLE_DIFFERENCES:
            continue
        if old['args'].get(key) != args.get(key):
            raise ValueError(f'cannot resume {path}: {key}={old["args"].get(key)!r} there, '
                             f'{args.get(key)!r} now (only {RESUMABLE_DIFFERENCES} may differ)')
    return dict(old['runs'])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--stage1-iters', type=int, default=300)
    p.add_argument('--stage2-iters', type=int, default=300)
    p.add_argument('--eval-every', type=int, default=100)
    p.add_argument('--suffix', default='mixed', help='config family: <stage>_faces64_<suffix>.py')
    p.add_argument('--work-dir', default=None)
    p.add_argument('--batch-size', type=int, default=None, help='training batch (config: 16)')
    p.add_argument('--stage1-dir', default=None,
                   help='reuse this trained stage-1 run for every seed (only stage 2 varies)')
    p.add_argument('--resume', action='store_true',
                   help='keep the finished runs of WORK_DIR/results.json (same settings)')
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    os.chdir(ROOT)
    work = a.work_dir or f'work_dirs/sr_seeds_{a.suffix}'
    os.makedirs(work, exist_ok=True)
    cfg = Config.fromfile(config_path('ours', a.suffix))
    ds = cfg.val_dataloader.dataset
    ensure_generated(ds.data_root, ds.auto_generate, **ds.generate_options)
    data = PairedSRDataset(ds.data_root, ds.hr_folder, ds.lr_folder)
    hr = torch.stack([data[i]['hr'] for i in range(len(data))])
    lr = torch.stack([data[i]['lr'] for i in range(len(data))])
    bic = F.interpolate(lr, scale_factor=4, mode='bicubic', align_corners=False).clamp(0, 1)
    results = dict(args=vars(a), data_root=ds.data_root, num_test_pairs=len(data),
                   bicubic_upsampling=dict(fd_patch8=fd(bic, hr, 8), **paired_scores(bic, hr)),
                   runs={})
    if a.resume:
        results['runs'] = previous_runs(osp.join(work, 'results.json'), vars(a))
        print(f'resuming: {sorted(results["runs"])} already finished', flush=True)
    for seed in a.seeds:
        if all(f'{run}_seed{seed}' in results['runs'] for run in RUNS):
            continue
        s1 = a.stage1_dir or osp.join(work, f'stage1_seed{seed}')
        if f'stage1_seed{seed}' not in results['runs']:    # else: its checkpoints are in s1
            secs = 0.0 if a.stage1_dir else train(config_path('stage1', a.suffix), s1,
                                                   a.stage1_iters, a.eval_every, seed,
                                                   batch_size=a.batch_size)
            g = load_trained_generator(config_path('stage1', a.suffix), s1)
            torch.manual_seed(seed)
            with torch.no_grad():
                fake = from_net(g(to_net(hr)))
            results['runs'][f'stage1_seed{seed}'] = dict(seed=seed, train_seconds=secs,
                                                         fd_patch4_to_real_lr=fd(fake, lr, 4))
        for run in ('ours', 'bicubic_pairs'):
            if f'{run}_seed{seed}' in results['runs']:
                continue
            wd = osp.join(work, f'{run}_seed{seed}')
            secs = train(config_path(run, a.suffix), wd, a.stage2_iters, a.eval_every, seed,
                         stage1_dir=s1 if run == 'ours' else None, batch_size=a.batch_size)
            curve = {}
            for ckpt in checkpoints(wd):
                it = int(re.findall(r'iter_(\d+)', ckpt)[0])
                with torch.no_grad():
                    sr = from_net(load_trained_generator(config_path(run, a.suffix), ckpt)(
                        to_net(lr)))
                curve[it] = dict(fd_patch8=fd(sr, hr, 8), **paired_scores(sr, hr))
            results['runs'][f'{run}_seed{seed}'] = dict(seed=seed, train_seconds=secs,
                                                        curve=curve)
            print(f'[{run} seed {seed}] {json.dumps(curve)}', flush=True)
            with open(osp.join(work, 'results.json'), 'w') as f:
                json.dump(results, f, indent=1)
    print_table(results)
    return results


def print_table(results: dict) -> None:
    runs = results['runs']
    b = results['bicubic_upsampling']
    print(f"\n{results['num_test_pairs']} held-out pairs from {results['data_root']}; "
          f"bicubic upsampling: PSNR {b['psnr']:.2f}, SSIM {b['ssim']:.4f}, "
          f"FD8 {b['fd_patch8']:.4f}")
    s1 = [r['fd_patch4_to_real_lr'] for k, r in runs.items() if k.startswith('stage1')]
    print(f'stage 1 FD4 to real LR: {np.mean(s1):.4f} +- {_std(s1):.4f} (n={len(s1)})')
    print('\n| iteration | trained on | PSNR | SSIM | FD patch8 to HR | n |')
    print('|---|---|---|---|---|---|')
    iters = sorted({int(i) for k, r in runs.items() if 'curve' in r for i in r['curve']})
    for it in iters:
        for run in ('ours', 'bicubic_pairs'):
            vals = [r['curve'][it] if it in r['curve'] else r['curve'].get(str(it))
                    for k, r in runs.items() if k.startswith(run)]
            vals = [v for v in vals if v]
            if not vals:
                continue
            cells = [f'{np.mean([v[m] for v in vals]):.{d}f} +- '
                     f'{_std([v[m] for v in vals]):.{d}f}'
                     for m, d in (('psnr', 2), ('ssim', 4), ('fd_patch8', 4))]
            print(f'| {it} | {run} | ' + ' | '.join(cells) + f' | {len(vals)} |')


if __name__ == '__main__':
    main()
