"""A checkpoint from another model is refused with a message naming the file."""
import pytest
import torch
from torch import nn

from plugins.engine import CheckpointMismatchError, check_checkpoint_matches


def _save(model, path):
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


def test_same_model_matches(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    _save(model, tmp_path / 'a.pth')
    assert check_checkpoint_matches(model, str(tmp_path / 'a.pth'), exact=True) == 1.0


def test_other_model_is_refused(tmp_path):
    _save(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 5)), tmp_path / 'other.pth')
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(CheckpointMismatchError, match=r'other.pth does not match the model.*1 of 7'):
        check_checkpoint_matches(model, str(tmp_path / 'other.pth'))


def test_shape_mismatch_is_reported(tmp_path):
    _save(nn.Sequential(nn.Conv2d(3, 8, 3)), tmp_path / 'wide.pth')
    with pytest.raises(CheckpointMismatchError, match=r'shape of 0.weight: checkpoint \(8, 3'):
        check_checkpoint_matches(nn.Sequential(nn.Conv2d(3, 4, 3)), str(tmp_path / 'wide.pth'))


def test_new_head_allowed_when_not_exact(tmp_path):
    src = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3),
                        nn.Conv2d(4, 16, 1))
    _save(src, tmp_path / 'pre.pth')
    dst = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3),
                        nn.Conv2d(4, 19, 1))
    assert check_checkpoint_matches(dst, str(tmp_path / 'pre.pth')) == 0.75
    with pytest.raises(CheckpointMismatchError):
        check_checkpoint_matches(dst, str(tmp_path / 'pre.pth'), exact=True)


def test_lazily_shaped_parameters_match(tmp_path):
    from mmcv.cnn import build_conv_layer
    cfg = dict(type='BinaryConv2d', scale='learned', scale_shape='rank1')
    trained = build_conv_layer(cfg, 4, 8, 3, padding=1)
    trained(torch.randn(1, 4, 8, 8))  # resolves beta (h_out) and gamma (w_out)
    _save(trained, tmp_path / 'rank1.pth')
    fresh = build_conv_layer(cfg, 4, 8, 3, padding=1)
    assert check_checkpoint_matches(fresh, str(tmp_path / 'rank1.pth'), exact=True) == 1.0
