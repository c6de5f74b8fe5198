"""A face-alignment config trained for one epoch evaluates and resumes from its checkpoint
(300W's metainfo holds zero-size arrays, ``sigmas=[]``, which torch's weights_only load
refused before ``plugins.compat`` allowed their empty ``bytes()``)."""
import os
import os.path as osp

from tools import test as test_tool
from tools import train as train_tool


def _face_cfg(tmp_path, repo_root, shared_data) -> str:
    root = osp.join(shared_data, '300w') + '/'
    base = osp.join(repo_root, 'configs/face/binary_hg_300w.py')
    path = tmp_path / 'face_300w_sample.py'
    path.write_text(f'''
_base_ = [{base!r}]
data_root = {root!r}
model = dict(backbone=dict(channels=16, stem_channels=(16, 16)))
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(**loader, dataset=dict(data_root=data_root, ann_file='test_300w.json',
                                               data_prefix=dict(img='')))
val_dataloader = dict(**loader, dataset=dict(data_root=data_root, ann_file='test_300w.json',
                                             data_prefix=dict(img='')))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1))
''')
    return str(path)


def test_face_config_trains_evaluates_and_resumes(tmp_path, repo_root, shared_data, capsys,
                                                  monkeypatch):
    cfg = _face_cfg(tmp_path, repo_root, shared_data)
    work = str(tmp_path / 'work')
    train_tool.main([cfg, '--work-dir', work])
    ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt), os.listdir(work)
    assert osp.isfile(osp.join(work, 'curves.png'))  # the default runtime draws the curves
    capsys.readouterr()
    monkeypatch.setenv('PROGRESS', 'bar')
    metrics = test_tool.main([cfg, ckpt, '--work-dir', work])
    assert metrics['NME'] > 0
    assert 'test: 100%' in capsys.readouterr().err  # tools/test.py shows a progress bar
    runner = train_tool.main([cfg, '--work-dir', work, '--resume',
                              '--cfg-options', 'train_cfg.max_epochs=2'])
    assert runner.epoch == 2 and runner.iter == 2  # continued: one iteration per epoch
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
