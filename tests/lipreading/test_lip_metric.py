"""Per-yaw-bin accuracy against a hand count, and the plot."""
import os.path as osp

import numpy as np
import torch
from mmengine.structures import BaseDataElement

from plugins.lipreading.metric import YawBinAccuracy, yaw_bin_accuracy


def test_yaw_bins_by_hand():
    pred = np.array([0, 1, 1, 2, 0, 0])
    gt = np.array([0, 1, 0, 2, 1, 0])
    yaw = np.array([5, -14, 20, -40, 44.9, 60])
    m = yaw_bin_accuracy(pred, gt, yaw, (0, 15, 30, 45, 60))
    assert np.isclose(m['top1'], 100 * 4 / 6)
    assert m['top1_yaw_0-15'] == 100 and m['count_yaw_0-15'] == 2
    assert m['top1_yaw_15-30'] == 0
    assert m['top1_yaw_30-45'] == 50 and m['count_yaw_30-45'] == 2
    assert m['top1_yaw_45-60'] == 100 and m['count_yaw_45-60'] == 1   # last bin closed


def test_metric_plot(tmp_path):
    metric = YawBinAccuracy(bins=(0, 30, 60), plot_file=str(tmp_path / 'acc.png'))
    samples = []
    for p, g, y in [(0, 0, 10.0), (1, 0, 40.0)]:
        s = BaseDataElement(metainfo=dict(yaw=y))
        s.gt_label, s.pred_label = torch.tensor([g]), torch.tensor([p])
        samples.append(s)
    metric.process({}, samples)
    m = metric.evaluate(2)
    assert m['lip/top1'] == 50 and m['lip/top1_yaw_0-30'] == 100
    assert osp.getsize(tmp_path / 'acc.png') > 1000
