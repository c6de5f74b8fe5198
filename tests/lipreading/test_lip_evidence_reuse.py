"""tools/lipreading/evidence.py --reuse: finished runs are tested, not trained again."""
import json
import os
import os.path as osp

import pytest

NAMES = ['0-15', '15-30', '30-45', '45-60']


@pytest.fixture
def fake(tmp_path, monkeypatch, load_tool):
    """The tool with a stand-in ``run`` that records what it was asked to do."""
    tool = load_tool('lipreading/evidence.py')
    root = tmp_path / 'lrw'
    (tmp_path / 'lrw_pose').mkdir(parents=True)
    root.mkdir()
    (root / 'meta.json').write_text('{}')
    (tmp_path / 'lrw_pose' / 'bad_clips.txt').write_text('')
    monkeypatch.setitem(tool.ROOTS, 'toy', str(root))
    monkeypatch.setattr(tool, 'plot_accuracy_vs_yaw', lambda *a, **k: None)
    calls = []

    def run(name, cfg, wd, max_iters, seed, data_root, extra_test, eval_only):
        calls.append((osp.basename(wd), eval_only))
        if not eval_only:                       # a training leaves its last checkpoint
            os.makedirs(wd, exist_ok=True)
            open(osp.join(wd, f'iter_{max_iters}.pth'), 'w').close()
        m = {'top1': 50.0 + seed}
        for i, b in enumerate(NAMES):
            m[f'top1_yaw_{b}'], m[f'count_yaw_{b}'] = 40.0 + seed + i, 10 + i
        return m, 1.0
    monkeypatch.setattr(tool, 'run', run)
    return tool, calls, tmp_path / 'work'


def test_reuse_trains_only_the_missing_runs(fake):
    tool, calls, work = fake
    args = ['--configs', 'frontal', '--work-dir', str(work), '--max-iters', '7']
    tool.main(args + ['--seeds', '0'])
    assert calls == [('lipnet_tiny_lrw-synthetic_seed0', False)]
    calls.clear()
    tool.main(args + ['--seeds', '0', '1', '--reuse'])
    assert calls == [('lipnet_tiny_lrw-synthetic_seed0', True),      # finished: tested only
                     ('lipnet_tiny_lrw-synthetic_seed1', False)]     # missing: trained
    res = json.load(open(work / 'results.json'))['per_seed']['frontal only']
    assert [(r['seed'], r['reused']) for r in res] == [(0, True), (1, False)]
    # non-frontal = clip-weighted mean of the bins >= 15 deg, computed here by hand
    for r in res:
        s = r['seed']
        assert r['non_frontal'] == pytest.approx(
            ((41 + s) * 11 + (42 + s) * 12 + (43 + s) * 13) / 36)
    calls.clear()
    tool.main(args + ['--seeds', '1'])                  # without --reuse: trains again
    assert calls == [('lipnet_tiny_lrw-synthetic_seed1', False)]
    calls.clear()
    tool.main(args + ['--seeds', '0', '--max-iters', '9', '--reuse'])   # other budget
    assert calls == [('lipnet_tiny_lrw-synthetic_seed0', False)]
