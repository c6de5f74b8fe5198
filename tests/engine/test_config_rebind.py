"""Overrides of top-level config variables reach every place that used them."""
import os.path as osp
import warnings

import pytest
from mmengine.config import Config

from plugins.engine.config_rebind import check_data_roots, merge_cfg_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _fields(node, name, path=()):
    """Every (path, value) of a field called ``name`` (independent walk over plain dicts)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == name:
                yield path + (k, ), v
            yield from _fields(v, name, path + (k, ))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _fields(v, name, path + (i, ))


def _load(name):
    return Config.fromfile(osp.join(ROOT, 'configs', name))


def test_plain_merge_does_not_reach_the_codec():
    """The bug being fixed: mmengine's merge changes only the top-level variable."""
    cfg = _load('pose/hg_mpii.py')
    cfg.merge_from_dict({'input_size': (256, 256)})
    assert tuple(cfg.codec.input_size) == (128, 128)


@pytest.mark.parametrize('config', ['pose/hg_mpii.py', 'pose/binary_hg_mpii.py',
                                    'face/binary_hg_300w.py', 'pose/resnet_mpii_embedded.py'])
def test_input_size_and_data_root_reach_everywhere(config):
    cfg = _load(config)
    old_root = cfg.data_root
    report = merge_cfg_options(cfg, {'input_size': (256, 256), 'data_root': '/elsewhere/'})
    d = cfg.to_dict()
    sizes = list(_fields(d, 'input_size'))
    assert len(sizes) >= 3  # codec, train and val pipelines at least
    assert all(tuple(v) == (256, 256) for _, v in sizes), sizes
    heat = [tuple(v) for _, v in _fields(d, 'heatmap_size')]
    assert heat and all(h == (64, 64) for h in heat), heat  # stride 4 kept
    roots = [v for _, v in _fields(d, 'data_root')]
    assert roots and all(r == '/elsewhere/' for r in roots)
    text = str(d)
    assert old_root not in text.replace("'data_root': '/elsewhere/'", '')
    assert 'input_size' in report and 'data_root' in report


def test_explicit_field_option_wins():
    cfg = _load('pose/hg_mpii.py')
    merge_cfg_options(cfg, {'input_size': (256, 256), 'heatmap_size': (32, 32),
                            'val_pipeline.2.input_size': (192, 192)})
    assert tuple(cfg.codec.heatmap_size) == (32, 32)
    assert tuple(cfg.val_pipeline[2].input_size) == (192, 192)
    assert tuple(cfg.train_pipeline[4].input_size) == (256, 256)


def test_rebound_config_builds_256px_samples(mpii_tiny):
    """Through MMPose's own dataset and pipeline: the sample and its target follow."""
    from mmpose.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')
    cfg = _load('pose/hg_mpii.py')
    merge_cfg_options(cfg, {'input_size': (256, 256), 'data_root': mpii_tiny + '/'})
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    sample = ds[0]
    assert tuple(sample['inputs'].shape[-2:]) == (256, 256)
    assert tuple(sample['data_samples'].gt_fields.heatmaps.shape[-2:]) == (64, 64)


def test_data_root_mismatch_warns():
    cfg = _load('pose/hg_mpii.py')
    cfg.train_dataloader.dataset.data_root = 'data/other/'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        msgs = check_data_roots(cfg)
    assert len(msgs) == 1 and 'train_dataloader' in msgs[0] and 'data/other/' in msgs[0]
    assert any('data/other/' in str(w.message) for w in caught)


def test_child_config_variable_reaches_its_bases_fields(tmp_path):
    """One variable in a child config (the documented way) changes the size everywhere."""
    from plugins.engine.config_rebind import load_config
    base = osp.join(ROOT, 'configs', 'pose', 'binary_hg_mpii.py')
    child = tmp_path / 'child.py'
    child.write_text(f"_base_ = ['{base}']\ninput_size = (256, 256)\n"
                     "data_root = 'data/mpii/'\n")
    plain = Config.fromfile(str(child))
    assert tuple(plain.codec.input_size) == (128, 128)  # what mmengine alone does
    cfg = load_config(str(child))
    d = cfg.to_dict()
    assert all(tuple(v) == (256, 256) for _, v in _fields(d, 'input_size'))
    assert all(tuple(v) == (64, 64) for _, v in _fields(d, 'heatmap_size'))
    assert all(v == 'data/mpii/' for _, v in _fields(d, 'data_root'))
    assert cfg.val_dataloader.dataset.headbox_file == 'data/mpii/annotations/mpii_gt_val.mat'
    # an option on top of the child still wins
    cfg = load_config(str(child), {'input_size': (192, 192)})
    assert tuple(cfg.model.head.decoder.input_size) == (192, 192)
    assert tuple(cfg.model.head.decoder.heatmap_size) == (48, 48)
