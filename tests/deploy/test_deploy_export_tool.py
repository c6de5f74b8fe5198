"""tools/export_binary.py: config + checkpoint -> packed file, sizes, and the output check."""
import os.path as osp

import pytest
import torch

def test_export_tool_from_checkpoint(tmp_path, capsys, deploy_tool):
    tool = deploy_tool('export_binary')
    opts = [
        '--cfg-options', 'model.backbone.num_stacks=1', 'model.head.num_stacks=1',
        'model.backbone.depth=2'
    ]
    # a "trained" checkpoint of the smaller model
    cfg = tool.Config.fromfile(tool.CONFIG)
    cfg.merge_from_dict({
        'model.backbone.num_stacks': 1,
        'model.head.num_stacks': 1,
        'model.backbone.depth': 2
    })
    model = tool.build_model(cfg)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    sizes = tool.main([tool.CONFIG, str(ckpt), '--check', '--input-size', '64', '64'] + opts)
    out = capsys.readouterr().out
    assert (tmp_path / 'epoch_1.bnn').exists() and 'packed file' in out
    assert sizes['ratio'] > 3 and sizes['max_abs_diff'] < 1e-3


def test_export_tool_needs_a_checkpoint_or_random_init(deploy_tool):
    tool = deploy_tool('export_binary')
    with pytest.raises(SystemExit):
        tool.parse_args([tool.CONFIG])


def test_export_tool_shows_its_steps(tmp_path, capsys, monkeypatch, deploy_tool):
    tool = deploy_tool('export_binary')
    monkeypatch.setenv('PROGRESS', 'bar')
    tool.main([tool.CONFIG, '--random-init', '--out', str(tmp_path / 'm.bnn'), '--cfg-options',
               'model.backbone.num_stacks=1', 'model.head.num_stacks=1',
               'model.backbone.depth=2'])
    assert 'export_binary: 100%' in capsys.readouterr().err and (tmp_path / 'm.bnn').exists()
