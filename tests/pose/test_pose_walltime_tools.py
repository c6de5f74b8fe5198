"""tools/benchmark_walltime.py (equal wall-clock budgets) and tools/pose_gallery.py."""
import json
import os.path as osp

import numpy as np
import pytest

from tools import benchmark_walltime as wt
from tools import pose_gallery


def _scalars(path, recs):
    path.parent.mkdir(parents=True)
    path.write_text('\n'.join(json.dumps(r) for r in recs) + '\n')


def test_curve_sums_logged_iteration_times(tmp_path):
    # logger every 10 iterations; 'time' is the mean iteration time of the window
    recs = [dict(loss=1.0, time=0.5, step=10), dict(loss=0.9, time=0.7, step=20),
            dict(PCK=12.0, step=0), dict(loss=0.8, time=1.0, step=30),
            dict(PCK=20.5, **{'Head PCK': 30.0}, step=0)]  # mmengine: val step = epoch 0
    _scalars(tmp_path / 'run' / '20260101_000000' / 'vis_data' / 'scalars.json', recs)
    curve = wt.read_curve(str(tmp_path / 'run'))
    assert curve['points'] == [(20, 12.0, 12.0), (30, 22.0, 20.5)]  # 5 + 7, then + 10 s
    assert curve['final'] == {'PCK': 20.5, 'Head PCK': 30.0} and curve['train_s'] == 22.0


def test_budgets_equal_seconds_and_table(tmp_path, monkeypatch):
    """Each config gets iters * t_ref / t_cfg iterations; the table reports mean +- std."""
    started = []

    def fake_run_all(jobs, args):
        for name, path, iters, seed, work in jobs:
            started.append((name, iters, seed))
            t = dict(a=1.0, b=2.0)[name]
            recs = [dict(loss=1.0, time=t, step=iters), dict(PCK=10.0 + seed + (name == 'b'),
                                                             step=iters)]
            _scalars(tmp_path / 'w' / name / f'seed{seed}' / 'x' / 'vis_data' / 'scalars.json',
                     recs)
    monkeypatch.setattr(wt, 'run_all', fake_run_all)
    rows = wt.main(['cfg_a.py', 'cfg_b.py', '--names', 'a', 'b', '--iters', '100',
                    '--cost', 'cfg_a.py=0.3', 'cfg_b.py=0.5', '--seeds', '0', '1', '2',
                    '--work-dir', str(tmp_path / 'w')])
    assert sorted(set((n, i) for n, i, _ in started)) == [('a', 100), ('b', 60)]
    table = open(tmp_path / 'w' / 'table.md').read()
    assert '| a | 0.300 | 100 |' in table and '11.0 +- 1.0 | 10.0, 11.0, 12.0 (0, 1, 2)' in table
    assert '| b | 0.500 | 60 |' in table and '12.0 +- 1.0' in table
    assert osp.getsize(tmp_path / 'w' / 'curves.png') > 1000
    assert [len(r['runs']) for r in rows] == [3, 3]


def test_gallery_draws_the_ground_truth_skeleton(tmp_path, mpii_tiny, repo_root):
    import cv2
    cfg = osp.join(repo_root, 'configs/pose/hg_mpii.py')
    out = str(tmp_path / 'g.png')
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(f"_base_ = ['{cfg}']\ndata_root = '{mpii_tiny}/'\n")
    pose_gallery.main([str(cfg_file), 'none', '--num', '3', '--scale', '3', '--out', out])
    img = cv2.imread(out)
    side = 128 * 3
    assert img.shape == (2 * (36 + side), 3 * side, 3)  # ground-truth row + one model
    # the first ground-truth link is drawn where the annotation puts it (independent of the
    # tool's drawing code: the midpoint of the thorax->upper-neck segment, MPII joints 7-8)
    ann = json.load(open(osp.join(mpii_tiny, 'annotations', 'mpii_val.json')))[0]
    (x7, y7), (x8, y8) = ann['joints'][7], ann['joints'][8]
    mx, my = int(round((x7 + x8) / 2 * 3)), 36 + int(round((y7 + y8) / 2 * 3))
    patch = img[my - 2:my + 3, mx - 2:mx + 3].reshape(-1, 3)
    assert any(np.abs(p.astype(int) - (60, 200, 60)).max() < 40 for p in patch)


def test_report_only_tabulates_the_finished_seeds(tmp_path):
    for seed, pck in ((0, 30.0), (2, 34.0)):  # seed 1 never finished
        _scalars(tmp_path / 'a' / f'seed{seed}' / 'x' / 'vis_data' / 'scalars.json',
                 [dict(loss=1.0, time=1.0, step=40), dict(PCK=pck, step=0)])
        (tmp_path / 'a' / f'seed{seed}' / 'iter_40.pth').write_bytes(b'')
    _scalars(tmp_path / 'a' / 'seed1' / 'x' / 'vis_data' / 'scalars.json',
             [dict(loss=1.0, time=1.0, step=20), dict(PCK=99.0, step=20)])
    rows = wt.main(['cfg_a.py', '--names', 'a', '--iters', '40', '--cost', 'cfg_a.py=0.5',
                    '--seeds', '0', '1', '2', '--report-only', '--work-dir', str(tmp_path)])
    assert [run['seed'] for run in rows[0]['runs']] == [0, 2]
    assert '32.0 +- 2.8 | 30.0, 34.0 (0, 2)' in open(tmp_path / 'table.md').read()


def test_calibration_by_training_reads_the_logged_step_times(tmp_path, monkeypatch):
    """--calibrate train: each config trains --calib-iters iterations without validation, as
    the measured runs do; its cost is the mean logged iteration time after the first window."""
    launched = []

    def fake_run_all(jobs, args):
        for name, path, iters, seed, work in jobs:
            launched.append((path, iters, list(args.cfg_options)))
            if name.startswith('calib'):  # windows: start-up, then the steady state
                t = dict(cfg_a=0.4, cfg_b=0.6)[osp.basename(path)[:-3]]
                recs = [dict(loss=1.0, time=5.0, step=5), dict(loss=1.0, time=t, step=10),
                        dict(loss=1.0, time=t + 0.1, step=15)]
            else:
                recs = [dict(loss=1.0, time=1.0, step=iters), dict(PCK=10.0, step=iters)]
            _scalars(tmp_path / 'w' / work.split('/w/')[1] / 'x' / 'vis_data' / 'scalars.json',
                     recs)
    monkeypatch.setattr(wt, 'run_all', fake_run_all)
    rows = wt.main(['cfg_a.py', 'cfg_b.py', '--names', 'a', 'b', '--iters', '100',
                    '--calibrate', 'train', '--calib-iters', '15',
                    '--work-dir', str(tmp_path / 'w')])
    calib = [c for c in launched if c[1] == 15]
    assert len(calib) == 2 and all('val_cfg=None' in c[2] for c in calib)
    assert [round(r['cost'], 3) for r in rows] == [0.45, 0.65]  # start-up window left out
    assert [r['iters'] for r in rows] == [100, round(100 * 0.45 / 0.65)]


def test_reuse_keeps_the_calibration_and_budget_of_finished_seeds(tmp_path, monkeypatch):
    """--reuse: a second invocation that adds a seed reads the calibration on disk instead of
    training it again (a new calibration would give the real network a different iteration
    count, so the finished seeds would no longer count as done)."""
    launched, cost, runs = [], dict(cfg_a=0.4, cfg_b=0.8), iter(range(100))

    def fake_run_all(jobs, args):
        for job in jobs:
            name, path, iters, seed, work = job
            if args.reuse and wt._complete(job):
                continue
            launched.append((name, iters, seed))
            t = cost[osp.basename(path)[:-3]]
            recs = [dict(loss=1.0, time=5.0, step=5), dict(loss=1.0, time=t, step=10)]
            if not name.startswith('calib'):
                recs = [dict(loss=1.0, time=t, step=iters), dict(PCK=10.0, step=iters)]
            _scalars(tmp_path / 'w' / work.split('/w/')[1] / f'r{next(runs):03d}' /
                     'vis_data' / 'scalars.json', recs)
            if not name.startswith('calib'):
                open(osp.join(work, f'iter_{iters}.pth'), 'w').close()
    monkeypatch.setattr(wt, 'run_all', fake_run_all)
    common = ['cfg_a.py', 'cfg_b.py', '--names', 'a', 'b', '--iters', '100', '--calibrate',
              'train', '--calib-iters', '10', '--work-dir', str(tmp_path / 'w'), '--reuse']
    wt.main(common + ['--seeds', '0'])
    assert launched == [('calib0', 10, 0), ('calib1', 10, 0), ('a', 100, 0), ('b', 50, 0)]
    launched.clear()
    cost['cfg_b'] = 0.5  # a new calibration would now give b 80 iterations
    rows = wt.main(common + ['--seeds', '0', '1'])
    assert launched == [('a', 100, 1), ('b', 50, 1)]  # no calibration, seed 0 not rerun
    assert [r['iters'] for r in rows] == [100, 50]
    assert [run['seed'] for run in rows[1]['runs']] == [0, 1]
