"""The compatibility layer: MMPose imports on mmcv-lite, compiled ops fail clearly,
checkpoints load with weights_only kept on."""
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from plugins import compat


def test_mmpose_imports_and_registers():
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules
    register_all_modules()
    import mmpose.apis  # noqa: F401  (inferencers import mmdet optionally)
    assert MODELS.get('TopdownPoseEstimator') is not None
    assert MODELS.get('RTMOHead') is not None


def test_compiled_op_placeholder_raises_clear_error():
    from mmcv.ops import MultiScaleDeformableAttention
    if compat.HAS_MMCV_OPS:
        pytest.skip('real mmcv ops are installed')
    with pytest.raises(compat.CompiledOpsUnavailable, match='mmcv==2.1.0'):
        MultiScaleDeformableAttention(embed_dims=8)


def test_other_ops_are_import_errors_so_fallbacks_work():
    if compat.HAS_MMCV_OPS:
        pytest.skip('real mmcv ops are installed')
    with pytest.raises(ImportError, match='DeformConv2d'):
        from mmcv.ops import DeformConv2d  # noqa: F401


def test_building_a_model_that_needs_compiled_ops_fails_clearly():
    if compat.HAS_MMCV_OPS:
        pytest.skip('real mmcv ops are installed')
    from mmpose.models.heads.transformer_heads.transformers.deformable_detr_layers import \
        DeformableDetrTransformerEncoderLayer
    with pytest.raises(compat.CompiledOpsUnavailable, match='mmcv-lite'):
        DeformableDetrTransformerEncoderLayer(self_attn_cfg=dict(embed_dims=16))


def test_reduce_mean_without_distributed_is_identity():
    from mmdet.utils import reduce_mean
    t = torch.tensor([1.0, 3.0])
    assert torch.equal(reduce_mean(t), t)


def _mmengine_like_checkpoint(path):
    hub = MessageHub.get_instance('compat_test')
    hub.update_scalar('train/loss', 0.5)
    ckpt = dict(
        meta=dict(epoch=1, dataset_meta=dict(sigmas=np.ones(3), ids=np.arange(3)[1])),
        state_dict={'w': torch.ones(2)},
        message_hub=hub.state_dict())
    torch.save(ckpt, path)


def test_checkpoint_with_history_buffer_loads_weights_only(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_like_checkpoint(path)
    ckpt = compat.load_local_checkpoint(path)
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 0.5
    np.testing.assert_array_equal(ckpt['meta']['dataset_meta']['sigmas'], np.ones(3))


def test_arbitrary_globals_are_still_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')

    class Evil:
        def __reduce__(self):
            return (osp.join, ('a', 'b'))

    torch.save({'x': Evil()}, path)
    with pytest.raises(compat.CheckpointError, match='evil.pth'):
        compat.load_local_checkpoint(path)


def test_restricted_getattr_refuses_other_lookups():
    with pytest.raises(pickle.UnpicklingError):
        compat._history_buffer_getattr(torch, 'load')


def test_truncated_checkpoint_names_the_file(tmp_path):
    path = str(tmp_path / 'cut.pth')
    _mmengine_like_checkpoint(path)
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    with pytest.raises(compat.CheckpointError, match='cut.pth.*truncated'):
        compat.load_local_checkpoint(path)


def test_mmengine_loader_uses_the_safe_loader(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    path = str(tmp_path / 'ckpt.pth')
    _mmengine_like_checkpoint(path)
    assert 'message_hub' in _load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match='nothere.pth'):
        _load_checkpoint(str(tmp_path / 'nothere.pth'))
