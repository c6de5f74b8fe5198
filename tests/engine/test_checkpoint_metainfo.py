"""Every checkpoint the Runner writes loads back: the metainfo of each keypoint data set that
MMPose ships (its ``configs/_base_/datasets/*.py``) survives save -> load -> resume with
``weights_only`` kept on."""
import glob
import os.path as osp

import mmpose
import numpy as np
import pytest
import torch
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from torch.utils.data import Dataset

from plugins.engine import check_checkpoint_matches

DATASET_CFGS = sorted(glob.glob(
    osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_', 'datasets', '*.py')))


class _MetaData(Dataset):
    """A toy data set whose ``metainfo`` is one of MMPose's."""

    metainfo: dict = {}

    def __len__(self):
        return 4

    def __getitem__(self, i):
        x = torch.tensor([i / 4, 1.0])
        return dict(inputs=x, targets=x[:1])


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


def test_mmpose_ships_dataset_configs():
    assert len(DATASET_CFGS) > 40, DATASET_CFGS  # the test below really covers them


def test_every_mmpose_metainfo_checkpoint_loads_and_resumes(tmp_path, toy_runner):
    runner = toy_runner(tmp_path, _MetaData(), max_iters=2, batch_size=2)
    runner.train()
    dataset = runner.train_dataloader.dataset
    empty = []
    for cfg in DATASET_CFGS:
        name = osp.splitext(osp.basename(cfg))[0]
        meta = parse_pose_metainfo(dict(from_file=cfg))
        empty += [name for v in meta.values() if isinstance(v, np.ndarray) and v.size == 0][:1]
        dataset.metainfo = meta
        path = str(tmp_path / f'{name}.pth')
        runner.save_checkpoint(str(tmp_path), f'{name}.pth')
        # tools/test.py's path: the pre-check, then the Runner's load
        check_checkpoint_matches(runner.model, path, min_fraction=1.0)
        ckpt = runner.load_checkpoint(path)
        assert _same(ckpt['meta']['dataset_meta'], meta), name
        # --resume's path
        runner.resume(path)
    # the face sets that failed before (sigmas=[] -> zero-size arrays) were covered
    assert {'300w', 'aflw', 'wflw'} <= set(empty), empty


def test_other_bytes_calls_are_refused(tmp_path):
    """The stand-in for ``bytes`` allows only the empty call of a zero-size array."""
    import pickle

    from plugins import compat

    class Huge:
        def __reduce__(self):
            return (bytes, (10**3, ))

    path = str(tmp_path / 'bytes.pth')
    torch.save({'x': Huge()}, path)
    with pytest.raises(compat.CheckpointError, match='bytes.pth'):
        compat.load_local_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        compat._empty_bytes(5)
