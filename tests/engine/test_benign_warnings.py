"""A short training prints none of the stack's benign warnings (issue 16 item 13), and the
filters of plugins/compat.py are narrow: the same text from another module still shows."""
import logging
import os
import subprocess
import sys
import warnings

import pytest
from mmengine.logging import MMLogger

#: the texts issue 16 item 13 found in every run
BENIGN = ['Use the existing "bbox_center"', 'configs/_base_/datasets/mpii.py" does not exist',
          'MultiScaleDeformableAttention', 'The prefix is not set in metric class',
          '"FileClient" will be deprecated', '"HardDiskBackend" is the alias']


@pytest.mark.slow
def test_short_training_prints_no_benign_warning(tmp_path, repo_root, mpii_tiny):
    cmd = [sys.executable, os.path.join(repo_root, 'tools/train.py'),
           os.path.join(repo_root, 'configs/pose/hg_mpii.py'), '--threads', '1', '--work-dir',
           str(tmp_path / 'work'), '--cfg-options', f'data_root={mpii_tiny}/', 'max_iters=2',
           'train_dataloader.batch_size=2', 'train_dataloader.num_workers=1',
           'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
           'val_dataloader.persistent_workers=False', 'val_dataloader.dataset.indices=4',
           'default_hooks.logger.interval=1']
    # another working directory than the repository's: the metainfo file is still found
    out = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=900,
                         env=dict(os.environ, PROGRESS='off'))
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert 'Iter(train) [2/2]' in text and 'PCK' in text  # it trained and validated
    shown = [b for b in BENIGN if b in text]
    assert not shown, shown
    assert 'warn' not in text.lower(), [line for line in text.splitlines()
                                        if 'warn' in line.lower()]


def test_warning_filter_is_narrow():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('default')
        import plugins.compat as compat
        compat._install_benign_warning_filters()  # catch_warnings reset the filters
        warnings.warn('Use the existing "bbox_center" and "bbox_scale". (test)', UserWarning)
    assert len(caught) == 1  # issued by this module, not MMPose's GetBBoxCenterScale


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_log_filter_is_narrow():
    from mmengine.evaluator import BaseMetric

    class Plain(BaseMetric):
        def process(self, data_batch, data_samples):
            pass

        def compute_metrics(self, results):
            return {}

    logger = MMLogger.get_instance('benign_test', logger_name='benign_test')
    records = _Records()
    logger.addHandler(records)
    try:
        logger.warning('The prefix is not set in metric class Foo.')  # from this module: kept
        Plain()  # mmengine's BaseMetric logs the same text to the current logger: dropped
        logger.warning('another warning')
    finally:
        logger.removeHandler(records)
    assert records.messages == ['The prefix is not set in metric class Foo.', 'another warning']


def test_mpii_metainfo_file_is_mmposes(repo_root):
    """The metainfo the MPII configs name is MMPose's own (the numbers of a run do not change)."""
    import mmpose
    import numpy as np
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from plugins.engine.config_rebind import load_config
    cfg = load_config(os.path.join(repo_root, 'configs/pose/hg_mpii.py'))
    ours = parse_pose_metainfo(dict(cfg.train_dataloader.dataset.metainfo))
    theirs = parse_pose_metainfo(dict(from_file=os.path.join(
        os.path.dirname(mmpose.__file__), '.mim/configs/_base_/datasets/mpii.py')))
    assert cfg.val_dataloader.dataset.metainfo == cfg.train_dataloader.dataset.metainfo
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert np.array_equal(ours[key], value) if isinstance(value, np.ndarray) \
            else ours[key] == value, key
