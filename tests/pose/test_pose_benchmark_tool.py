"""tools/benchmark_pose.py: the complexity/latency part on one small config."""
import importlib.util
import json
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_benchmark_no_train_row(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        'benchmark_pose_tool', osp.join(ROOT, 'tools/benchmark_pose.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.chdir(ROOT)
    rows = tool.main(['--only', 'binary_hg_mpii', '--no-train', '--runs', '1', '--size', '64',
                      '--work-dir', str(tmp_path)])
    (row,) = rows
    assert row['binary_params'] > 10 * row['real_params'] > 0
    assert row['packed_bytes'] == row['real_params'] * 4 + -(-row['binary_params'] // 8)
    assert row['ops'] == row['flops'] + row['bops'] / 64
    assert 'binary_hg_mpii' in open(tmp_path / 'benchmark.md').read()
    assert json.load(open(tmp_path / 'benchmark.json'))['rows'][0]['name'] == 'binary_hg_mpii'
