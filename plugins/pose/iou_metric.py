"""Mean intersection-over-union of part label maps (face part segmentation)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmpose.registry import METRICS


def confusion_matrix(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """``(num_classes, num_classes)`` counts, rows = ground truth, columns = prediction."""
    keep = gt != ignore_index
    idx = gt[keep].astype(np.int64) * num_classes + pred[keep].astype(np.int64)
    return np.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def iou_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class ``TP / (TP + FP + FN)``; NaN for a class absent from both maps."""
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    with np.errstate(invalid='ignore', divide='ignore'):
        return np.where(union > 0, tp / np.maximum(union, 1), np.nan)


@METRICS.register_module()
class PartIoU(BaseMetric):
    """Mean IoU over classes, accumulated over the whole split (one confusion matrix).

    Args:
        num_classes: number of labels.
        class_names: names used for the per-class keys (default ``class<i>``).
        ignore_index: label ignored in the ground truth.
        include_background: whether class 0 enters the mean.

    Returns (evaluate):
        ``{'mIoU': percent, 'IoU_<name>': percent ...}``.
    """

    default_prefix = 'parts'

    def __init__(self, num_classes: int, class_names: Optional[Sequence[str]] = None,
                 ignore_index: int = 255, include_background: bool = False,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f'{len(class_names)} class_names for num_classes={num_classes}')
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.class_names = list(class_names or [f'class{i}' for i in range(num_classes)])
        self.include_background = include_background

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            get = (lambda k: s[k]) if isinstance(s, dict) else (lambda k: getattr(s, k))
            pred = np.asarray(_data(get('pred_sem_seg'))).reshape(-1)
            gt = np.asarray(_data(get('gt_sem_seg'))).reshape(-1)
            self.results.append(confusion_matrix(pred, gt, self.num_classes,
                                                 self.ignore_index))

    def compute_metrics(self, results: list) -> dict:
        iou = iou_from_confusion(np.sum(results, axis=0))
        used = iou if self.include_background else iou[1:]
        out = {'mIoU': float(np.nanmean(used) * 100)}
        out.update({f'IoU_{n}': float(v * 100) for n, v in zip(self.class_names, iou)
                    if not np.isnan(v)})
        return out


def _data(x):
    d = x['data'] if isinstance(x, dict) else x.data
    return d.cpu().numpy() if hasattr(d, 'cpu') else d
