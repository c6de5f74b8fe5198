"""Word accuracy overall and per head-yaw bin, and the accuracy-vs-yaw plot.

"Towards pose-invariant lip-reading" reports top-1 accuracy per yaw range; clips are binned by
``|yaw|`` (degrees, from the clip metadata or a head-pose estimate).
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS

__all__ = ['YawBinAccuracy', 'yaw_bin_accuracy', 'plot_accuracy_vs_yaw', 'bin_names']


def bin_names(bins: Sequence[float]) -> List[str]:
    return [f'{bins[i]:g}-{bins[i + 1]:g}' for i in range(len(bins) - 1)]


def yaw_bin_accuracy(pred: np.ndarray, gt: np.ndarray, yaw: np.ndarray,
                     bins: Sequence[float]) -> Dict[str, float]:
    """Top-1 overall and per ``|yaw|`` bin ``[bins[i], bins[i+1])`` (last bin closed).

    Returns:
        ``{'top1': ..., 'top1_yaw_<lo>-<hi>': ..., 'count_yaw_<lo>-<hi>': n}`` (accuracies in %,
        NaN for empty bins; clips with unknown yaw count only overall).
    """
    pred, gt, yaw = np.asarray(pred), np.asarray(gt), np.abs(np.asarray(yaw, dtype=float))
    out = {'top1': float(100 * np.mean(pred == gt)) if len(gt) else float('nan')}
    for i, name in enumerate(bin_names(bins)):
        lo, hi = bins[i], bins[i + 1]
        sel = (yaw >= lo) & ((yaw < hi) | ((i == len(bins) - 2) & (yaw <= hi)))
        out[f'top1_yaw_{name}'] = float(100 * np.mean(pred[sel] == gt[sel])) if sel.any() \
            else float('nan')
        out[f'count_yaw_{name}'] = int(sel.sum())
    return out


def plot_accuracy_vs_yaw(curves: Dict[str, Dict[str, float]], bins: Sequence[float],
                         out_file: str, title: str = 'Word accuracy vs head yaw') -> str:
    """Plot per-bin accuracy of one or more models (``{label: metrics dict}``) to a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    centres = [(bins[i] + bins[i + 1]) / 2 for i in range(len(bins) - 1)]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, m in curves.items():
        ax.plot(centres, [m.get(f'top1_yaw_{n}', np.nan) for n in bin_names(bins)], 'o-',
                label=f'{label} (overall {m.get("top1", np.nan):.1f}%)')
    ax.set_xlabel('|yaw| (degrees, bin centre)')
    ax.set_ylabel('top-1 accuracy (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
    return out_file


@METRICS.register_module()
class YawBinAccuracy(BaseMetric):
    """Top-1 word accuracy overall and per ``|yaw|`` bin.

    Args:
        bins: Bin edges in degrees.
        plot_file: If set, also write the accuracy-vs-yaw plot there.
        out_file: If set, dump per-clip predictions (json) there.
        collect_device, prefix: See :class:`mmengine.evaluator.BaseMetric`.
    """
    default_prefix = 'lip'

    def __init__(self,
                 bins: Sequence[float] = (0, 15, 30, 45, 60, 90),
                 plot_file: Optional[str] = None,
                 out_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if list(bins) != sorted(bins) or len(bins) < 2:
            raise ValueError(f'bins must be >= 2 increasing edges, got {bins}')
        self.bins = list(bins)
        self.plot_file, self.out_file = plot_file, out_file

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            d = s.to_dict() if hasattr(s, 'to_dict') else s
            self.results.append(dict(pred=int(d['pred_label'][0]), gt=int(d['gt_label'][0]),
                                     yaw=float(d.get('yaw', np.nan)),
                                     clip=d.get('clip_path', '')))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        pred = np.array([r['pred'] for r in results])
        gt = np.array([r['gt'] for r in results])
        yaw = np.array([r['yaw'] for r in results])
        m = yaw_bin_accuracy(pred, gt, yaw, self.bins)
        if self.plot_file:
            plot_accuracy_vs_yaw({'model': m}, self.bins, self.plot_file)
        if self.out_file:
            os.makedirs(osp.dirname(osp.abspath(self.out_file)), exist_ok=True)
            with open(self.out_file, 'w') as f:
                json.dump(dict(metrics=m, clips=results), f)
        return m
