"""Evidence for docs/lipreading.md: learning on the embedded set, and the effect of 3DMM pose
augmentation on non-frontal test clips.

    python tools/lipreading/evidence.py [--max-iters 1000] [--seeds 0 1 2] [--test-head independent]
        [--reuse]

1. generates the embedded set (near-frontal train/val, test over |yaw| <= 60) if missing:
   ``data/lrw_synthetic`` with test clips from the training toy model (``--test-head toy``) or
   ``data/lrw_synthetic_indep`` with test clips from the independent head model and renderer
   settings of ``plugins/lipreading/head_model.py`` (``--test-head independent``);
2. makes the offline pose-augmented copies ``<data root>_pose`` if missing (toy model);
3. trains ``lipnet_tiny_lrw-synthetic.py`` (frontal only) and ``..._poseaug.py`` (frontal +
   augmented) for the same number of iterations with mmengine's Runner and tests both;
4. writes ``work_dirs/lipreading_evidence/results.json``, a markdown table (mean +- sample
   std over seeds, and one line per run) and ``accuracy_vs_yaw.png``.

``--reuse`` does not train a run whose ``iter_<max-iters>.pth`` is already in its work dir (a
finished earlier run of the same seed and budget): it only tests that checkpoint, as
``--eval-only`` does for every run.
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import plugins  # noqa: E402,F401
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from plugins.datasets.generators import DATA_GENERATORS  # noqa: E402
from plugins.engine.seed_stats import mean_std  # noqa: E402
from plugins.lipreading.metric import bin_names, plot_accuracy_vs_yaw  # noqa: E402
from plugins.lipreading.offline_augment import augment_folder  # noqa: E402

#: test head -> data root of the embedded set generated with it
ROOTS = {'toy': 'data/lrw_synthetic', 'independent': 'data/lrw_synthetic_indep_matched',
         'independent_raw': 'data/lrw_synthetic_indep'}
CONFIGS = {
    'frontal': ('frontal only', 'configs/lipreading/lipnet_tiny_lrw-synthetic.py'),
    'poseaug': ('+ 3DMM pose aug', 'configs/lipreading/lipnet_tiny_lrw-synthetic_poseaug.py'),
}


def set_data_roots(cfg, data_root):
    """Point every LRWDataset of the config to ``data_root`` (pose copies: ``<root>_pose``)."""
    def fix(ds):
        if ds.get('type') == 'ConcatDataset':
            for d in ds.datasets:
                fix(d)
        elif ds.get('type') == 'LRWDataset':
            ds.data_root = data_root + '_pose' if ds.data_root.endswith('_pose') else data_root
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        fix(cfg[key].dataset)


def run(name, cfg_path, work_dir, max_iters, seed, data_root='data/lrw_synthetic',
        extra_test=(), eval_only=False):
    """Train (unless ``eval_only``) and test on ``data_root`` and every ``extra_test`` root."""
    cfg = Config.fromfile(osp.join(ROOT, cfg_path))
    set_data_roots(cfg, data_root)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    cfg.param_scheduler[-1].end = max_iters
    cfg.default_hooks.logger.interval = 50
    train_s = 0.0
    if not eval_only:
        runner = Runner.from_cfg(cfg)
        t = time.time()
        runner.train()
        train_s = time.time() - t
    out = {}
    for test_root in (data_root, *extra_test):
        c = copy.deepcopy(cfg)
        c.test_dataloader.dataset.data_root = test_root
        c.load_from = osp.join(work_dir, f'iter_{max_iters}.pth')
        m = {k.split('/')[-1]: v for k, v in Runner.from_cfg(c).test().items()}
        if test_root == data_root:
            out.update(m)
        else:
            out[test_root] = m
    return out, train_s


def non_frontal(m: dict, names) -> float:
    """Top-1 over the clips of every bin but the first (|yaw| >= 15)."""
    counts = [m[f'count_yaw_{b}'] for b in names[1:]]
    return sum(m[f'top1_yaw_{b}'] * c for b, c in zip(names[1:], counts)) / sum(counts)


def print_table(results: dict, names, title: str, key=None) -> None:
    print(f'\n{title}')
    print('| training | overall top-1 | ' + ' | '.join(f'|yaw| {n}' for n in names) +
          ' | non-frontal (>=15) | n |')
    print('|---' * (len(names) + 4) + '|')
    keys = ['top1'] + [f'top1_yaw_{b}' for b in names] + ['non_frontal']
    for n, rs in results.items():
        rs = [r[key] if key else r for r in rs]
        cells = [mean_std([r[k] for r in rs]) for k in keys]
        print(f'| {n} | ' + ' | '.join(cells) + f' | {len(rs)} |')
    for n, rs in results.items():                                   # one line per run
        for r in rs:
            v = r[key] if key else r
            print(f'{n} seed {r.get("seed")}: ' + ' '.join(f'{v[k]:.1f}' for k in keys) +
                  f' counts {[v[f"count_yaw_{b}"] for b in names]}' +
                  ('' if key else f' train_s {r["train_seconds"]:.0f}'))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--max-iters', type=int, default=1000)
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--work-dir', default='work_dirs/lipreading_evidence')
    p.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument('--test-head', default='toy', choices=list(ROOTS),
                   help='model and renderer of the test clips (independent*: never used in '
                   'training or augmentation)')
    p.add_argument('--extra-test', nargs='+', default=[], metavar='ROOT',
                   help='also test every run on these LRW-layout roots (their test split)')
    p.add_argument('--eval-only', action='store_true',
                   help='do not train: test the iter_<max-iters>.pth of earlier runs')
    p.add_argument('--reuse', action='store_true',
                   help='do not train runs whose iter_<max-iters>.pth exists (test it only)')
    p.add_argument('--threads', type=int, default=1, help='torch threads (1 is fastest on a '
                   'shared 2-core machine)')
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    os.chdir(ROOT)
    root = ROOTS[a.test_head]
    if not osp.isfile(osp.join(root, 'meta.json')):
        DATA_GENERATORS.get('lrw_synthetic')(root, seed=0, test_head=a.test_head)
    if not osp.isfile(root + '_pose/bad_clips.txt'):
        augment_folder(root, root + '_pose', split='train', copies=1, yaw_range=(10, 60),
                       seed=0)
    results = {}
    bins = (0, 15, 30, 45, 60)
    names = bin_names(bins)
    os.makedirs(a.work_dir, exist_ok=True)
    for seed in a.seeds:                     # both trainings of a seed before the next seed
        for key in a.configs:
            name, cfg = CONFIGS[key]
            wd = osp.join(a.work_dir, f'{osp.basename(cfg)[:-3]}_seed{seed}')
            done = osp.isfile(osp.join(wd, f'iter_{a.max_iters}.pth'))
            test_only = a.eval_only or (a.reuse and done)
            m, secs = run(name, cfg, wd, a.max_iters, seed, root, a.extra_test, test_only)
            for extra in a.extra_test:
                m[extra]['non_frontal'] = non_frontal(m[extra], names)
            m['seed'] = seed
            m['reused'] = bool(test_only and not a.eval_only)
            m['train_seconds'] = float('nan') if test_only else secs
            m['non_frontal'] = non_frontal(m, names)
            results.setdefault(name, []).append(m)
            print(f'[{name} seed {seed}] {json.dumps(m)}', flush=True)
            with open(osp.join(a.work_dir, 'results_eval.json' if a.eval_only else
                               'results.json'), 'w') as f:
                json.dump(dict(per_seed=results, max_iters=a.max_iters, seeds=a.seeds,
                               data_root=root, test_head=a.test_head), f, indent=1)
    mean = {n: {k: float(np.nanmean([r[k] for r in rs])) for k in rs[0]
                if not isinstance(rs[0][k], dict)} for n, rs in results.items()}
    plot_accuracy_vs_yaw(mean, bins, osp.join(a.work_dir, 'accuracy_vs_yaw.png'),
                         title=f'Embedded set, {a.max_iters} iters, seeds {a.seeds}')
    print_table(results, names, f'mean +- std over seeds {a.seeds} (sample std), test '
                f'clips: {root} ({a.test_head})')
    for extra in a.extra_test:
        print_table(results, names, f'same runs, test clips: {extra}', key=extra)
    print(f'\nchance = {100 / 6:.1f}%; plot: {osp.join(a.work_dir, "accuracy_vs_yaw.png")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
