"""tools/sr/benchmark_seeds.py --resume: which earlier runs it keeps."""
import json
import statistics

import pytest


ARGS = dict(seeds=[0, 1], stage1_iters=300, stage2_iters=150, eval_every=50, suffix='mixed',
            work_dir=None, batch_size=8, stage1_dir='work_dirs/s1')
RUNS = {'stage1_seed0': {'seed': 0, 'fd_patch4_to_real_lr': 0.04},
        'ours_seed0': {'seed': 0, 'curve': {'50': {'psnr': 17.5}}}}


def test_resume_keeps_runs_of_the_same_settings(tmp_path, load_tool):
    tool = load_tool('sr/benchmark_seeds.py')
    path = tmp_path / 'results.json'
    assert tool.previous_runs(str(path), dict(ARGS, resume=True)) == {}   # nothing yet
    path.write_text(json.dumps(dict(args=ARGS, runs=RUNS)))
    # more seeds and the --resume flag itself are allowed to differ
    assert tool.previous_runs(str(path), dict(ARGS, seeds=[0, 1, 2], resume=True)) == RUNS


@pytest.mark.parametrize('key,value', [('stage2_iters', 300), ('batch_size', None),
                                       ('stage1_dir', None), ('suffix', 'bicubic')])
def test_resume_refuses_other_settings(tmp_path, key, value, load_tool):
    tool = load_tool('sr/benchmark_seeds.py')
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(dict(args=ARGS, runs=RUNS)))
    with pytest.raises(ValueError, match=key):
        tool.previous_runs(str(path), dict(ARGS, resume=True, **{key: value}))


def test_std_is_the_sample_std(load_tool):
    tool = load_tool('sr/benchmark_seeds.py')
    assert tool._std([16.53, 16.91, 17.2]) == pytest.approx(statistics.stdev([16.53, 16.91, 17.2]))
    assert tool._std([1.0]) != tool._std([1.0])   # nan for one seed
