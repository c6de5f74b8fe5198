"""tools/benchmark_tnet.py: rows per seed, the saved JSON, and the merged table's statistics."""
import importlib.util
import json
import os.path as osp
import statistics

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_tnet_tool', osp.join(ROOT, 'tools/benchmark_tnet.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_seeds_json_and_merged_table(tmp_path, mpii_tiny, capsys):
    data_root = mpii_tiny + '/'
    cfg = tmp_path / 'tnet_tiny.py'
    cfg.write_text(f'''
_base_ = [{osp.join(ROOT, 'configs/pose/tnet_mpii.py')!r}]
data_root = {data_root!r}
train_dataloader = dict(batch_size=8, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root,
                                   headbox_file=data_root + 'annotations/mpii_gt_val.mat'))
test_dataloader = val_dataloader
''')
    tool = load_tool()
    out = tmp_path / 'rows.json'
    tool.main(['--config', str(cfg), '--baselines', '--ratios', '0.05:in_out', '--seeds', '0',
               '1',
               '--train-images', '16', '--val-images', '8', '--iters', '2',
               '--threads', str(torch.get_num_threads()),  # leave the process as it was
               '--json', str(out)])
    rows = json.load(open(out))
    assert [(r['ratio'], r['seed']) for r in rows] == [('0.05:in_out', 0), ('0.05:in_out', 1)]
    for r in rows:
        assert r['tensor'] < 0.05 * r['dense'] and r['ranks'][4] == r['ranks'][5]
        assert 0 <= r['pckh'] <= 100
    capsys.readouterr()
    tool.main(['--table-from', str(out)])
    (line, ) = [x for x in capsys.readouterr().out.splitlines()
                if x.startswith('| T-Net 0.05:in_out')]
    cells = [c.strip() for c in line.strip('|').split('|')]
    pckh = [r['pckh'] for r in rows]
    assert cells[5] == f'{statistics.mean(pckh):.2f}'
    assert cells[6] == f'{statistics.stdev(pckh):.2f}'
    assert cells[8] == '0, 1'
