import importlib.util
import os.path as osp

import plugins  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'complexity_tool', osp.join(ROOT, 'tools', 'analysis', 'complexity.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_timm_model_binarized(capsys):
    out = _tool().main(['--timm', 'resnet18', '--input-shape', '1', '3', '32', '32',
                        '--binarize', '{"conv": {"type": "BinaryConv2d", "scale": "none"}}'])
    # 16 binary 3x3 convs + 3 binary 1x1 downsample convs of ResNet-18 (first conv, fc real)
    assert out['binary_params'] == 11_157_504
    assert 'TOTAL' in capsys.readouterr().out


def test_openmmlab_config(tmp_path, capsys):
    cfg = tmp_path / 'tiny.py'
    cfg.write_text(
        "default_scope = 'mmpose'\n"
        "model = dict(type='TopdownPoseEstimator',\n"
        "    backbone=dict(type='ResNet', depth=18, base_channels=4, out_indices=(3, ),\n"
        "                  conv_cfg=dict(type='BinaryConv2d')),\n"
        "    head=dict(type='HeatmapHead', in_channels=32, out_channels=2,\n"
        "              deconv_out_channels=None, loss=dict(type='KeypointMSELoss')))\n")
    out = _tool().main([str(cfg), '--input-shape', '1', '3', '64', '64'])
    assert out['bops'] > 0 and out['binary_params'] > 0
    assert 'BinaryConv2d' in capsys.readouterr().out
