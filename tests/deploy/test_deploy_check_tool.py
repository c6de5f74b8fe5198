"""tools/deploy_check.py: export a trained pose model, time it, and check that the packed model
predicts the float binary model's keypoints on val images."""
import os.path as osp

import pytest
import torch

def options(data_root):
    small = {'model.backbone.num_stacks': 1, 'model.head.num_stacks': 1,
             'model.backbone.depth': 2, 'model.backbone.channels': 32,
             'val_dataloader.dataset.data_root': data_root,
             'val_dataloader.dataset.headbox_file':
             osp.join(data_root, 'annotations', 'mpii_gt_val.mat')}
    return small, ['--cfg-options'] + [f'{k}={v}' for k, v in small.items()]


def trained_checkpoint(tool, small, path):
    """A checkpoint with non-trivial BatchNorm statistics, scales and slopes."""
    from tests.deploy.test_deploy_export import randomise
    cfg = tool.Config.fromfile(tool.CONFIG)
    cfg.merge_from_dict(small)
    model = randomise(tool.build_model(cfg), seed=5)
    torch.save(dict(state_dict=model.state_dict()), path)


def test_deploy_check_reports_size_speed_and_equal_predictions(tmp_path, capsys, mpii_tiny,
                                                                deploy_tool):
    tool = deploy_tool('deploy_check')
    small, opts = options(mpii_tiny)
    ckpt = tmp_path / 'epoch_1.pth'
    trained_checkpoint(tool, small, ckpt)
    res = tool.main([tool.CONFIG, str(ckpt), '--val-images', '4', '--rounds', '1'] + opts)
    out = capsys.readouterr().out
    assert (tmp_path / 'epoch_1.bnn').exists()
    assert 'packed file' in out and 'faster' in out and 'EQUAL' in out
    assert res['ok'] and res['images'] == 4
    assert res['argmax_equal'] == res['argmax_total'] == 4 * 16
    assert res['packed_bytes'] < res['float_bytes']


def test_deploy_check_fails_when_predictions_differ(tmp_path, mpii_tiny, deploy_tool):
    tool = deploy_tool('deploy_check')
    _, opts = options(mpii_tiny)
    with pytest.raises(SystemExit) as e:  # no difference can meet a negative tolerance
        tool.main([tool.CONFIG, '--random-init', '--out', str(tmp_path / 'm.bnn'), '--val-images',
                   '2', '--rounds', '1', '--tol-px', '-1'] + opts)
    assert e.value.code == 1
