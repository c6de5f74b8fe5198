"""CurvesHook draws losses and validation metrics to a PNG and continues them after resume;
the default runtime switches it on; one config line adds TensorBoard."""
import glob
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS
from PIL import Image
from torch.utils.data import Dataset


@METRICS.register_module(force=True)
class _CurveMSE(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results += [d['err'] for d in data_samples]

    def compute_metrics(self, results):
        return dict(mse=float(np.mean(results)))


class _Line(Dataset):

    def __len__(self):
        return 32

    def __getitem__(self, i):
        x = torch.tensor([(7 * i % 32) / 32, 1.0])  # each batch of 8 spans the line
        return dict(inputs=x, targets=3 * x[:1] - 1)


def _runner(make, work_dir, max_iters, resume=False, **extra):
    return make(work_dir, _Line(), max_iters, batch_size=8, lr=0.3, shuffle=False,
                validate=True, val_evaluator=dict(type='_CurveMSE'),
                train_cfg=dict(val_interval=4),
                default_hooks=dict(checkpoint=dict(type='SafeCheckpointHook', interval=4,
                                                   by_epoch=False)),
                custom_hooks=[dict(type='CurvesHook', interval=2)], resume=resume,
                randomness=dict(seed=0), **extra)


def _hook(runner):
    return next(h for h in runner.hooks if type(h).__name__ == 'CurvesHook')


def test_curves_png_and_resume_continues_them(tmp_path, toy_runner):
    runner = _runner(toy_runner, tmp_path, 8)
    runner.train()
    hook = _hook(runner)
    assert [p[0] for p in hook.losses['loss']] == [2, 4, 6, 8]
    assert [p[0] for p in hook.metrics['mse']] == [4, 8]
    loss = [p[1] for p in hook.losses['loss']]
    assert loss[-1] < 0.5 * loss[0], loss  # a real training: the drawn loss falls
    png = osp.join(tmp_path, 'curves.png')
    image = np.asarray(Image.open(png).convert('RGB'))
    assert image.shape[1] > 2 * image.shape[0]  # two panels: loss and mse
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 10  # lines were drawn

    resumed = _runner(toy_runner, tmp_path, 12, resume=True)
    resumed.train()
    hook = _hook(resumed)
    assert [p[0] for p in hook.losses['loss']] == [2, 4, 6, 8, 10, 12]  # continued, not reset
    assert [p[0] for p in hook.metrics['mse']] == [4, 8, 12]


def test_default_runtime_draws_curves():
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '../../configs/pose/hg_mpii.py'))
    assert 'CurvesHook' in [h['type'] for h in cfg.custom_hooks]


def test_one_config_line_switches_tensorboard_on(tmp_path, toy_runner):
    line = ("visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), "
            "dict(type='TensorboardVisBackend')])")
    ns = {}
    exec(line, {'dict': dict}, ns)  # the README's line, as a config would read it
    runner = _runner(toy_runner, tmp_path, 4, visualizer=dict(type='Visualizer', name='tb_test',
                                                  **ns['visualizer']))
    runner.train()
    assert glob.glob(f'{tmp_path}/*/vis_data/events.out.tfevents.*')
