"""An unknown registry type names itself and the closest registered names, whichever builder
(mmengine's ``Registry.build`` or mmcv's layer builders) looks it up."""
import pytest
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.config import Config
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from plugins.compat import UnknownTypeError


def test_conv_type_typo_names_it_and_the_registered_spelling():
    with pytest.raises(KeyError) as info:  # still a KeyError, as mmcv raises
        build_conv_layer(dict(type='BinaryConv2D'), 8, 8, 3)
    msg = str(info.value)
    assert isinstance(info.value, UnknownTypeError)
    assert "Unknown conv type 'BinaryConv2D'" in msg and "did you mean 'BinaryConv2d'" in msg


def test_norm_type_typo():
    with pytest.raises(UnknownTypeError, match="Unknown norm type 'SynBN'.*did you mean 'SyncBN'"):
        build_norm_layer(dict(type='SynBN'), 8)


def test_nested_model_typo_through_a_stock_backbone():
    init_default_scope('mmpose')
    cfg = dict(type='ResNet', depth=18, conv_cfg=dict(type='BinaryConv2D'))
    with pytest.raises(UnknownTypeError, match="'BinaryConv2D'.*did you mean 'BinaryConv2d'"):
        MODELS.build(cfg)


def test_registry_build_typo_in_a_child_registry():
    with pytest.raises(UnknownTypeError,
                       match=r"Unknown type 'StackedHourGlass' in the mmpose::model registry; "
                       r"did you mean 'StackedHourglass'"):
        MODELS.build(dict(type='StackedHourGlass'))


def test_no_close_name_lists_some_registered_ones():
    with pytest.raises(UnknownTypeError, match='no registered name is close'):
        MMENGINE_MODELS.build(dict(type='Zzqqxx'))


def test_plain_get_still_returns_none_for_unknown_names():
    assert MODELS.get('BinaryConv2D') is None
    assert 'BinaryConv2D' not in MODELS
    assert MODELS.get('BinaryConv2d') is not None


def test_runner_config_typo(tmp_path):
    from mmengine.runner import Runner
    cfg = Config(dict(model=dict(type='TopdownPoseEstimatr'), work_dir=str(tmp_path),
                      default_scope='mmpose'))
    with pytest.raises(UnknownTypeError, match="did you mean 'TopdownPoseEstimator'"):
        Runner.from_cfg(cfg)
