"""An mmengine image classifier wrapping any timm model name or a backbone config.

mmpretrain (OpenMMLab's classification toolbox) is not used: see docs/cls.md. The three parts
register into mmengine's root registries, so a config needs only
``custom_imports=dict(imports=['plugins'])``:

* :class:`ClsDataPreprocessor` (``MODELS``): uint8 images to normalised float;
* :class:`TimmClassifier` (``MODELS``): ``model=dict(type='TimmClassifier',
  timm_model='binary_resnet18_xnor', num_classes=10, timm_kwargs=dict(width=32))`` or
  ``backbone=dict(type='ConvCfgResNet', ...)``; modes ``loss`` / ``predict`` / ``tensor``;
* :class:`ClsAccuracy` (``METRICS``): top-k accuracy in percent.

Data: each batch is ``dict(inputs=(N, 3, H, W) uint8, data_samples=dict(gt_label=(N,)))``
(the datasets of :mod:`plugins.datasets` with mmengine's ``default_collate``).
"""
from __future__ import annotations

import difflib
from typing import Any, Sequence

import timm
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.registry import METRICS, MODELS
from torch import Tensor, nn

__all__ = ['ClsDataPreprocessor', 'TimmClassifier', 'ClsAccuracy', 'create_timm_model',
           'check_labels', 'gt_labels']


def create_timm_model(name: str, **kwargs: Any) -> nn.Module:
    """``timm.create_model(name, **kwargs)`` with a clear error for unknown names.

    Raises:
        KeyError: ``name`` is not a registered timm model (the message lists close names).
    """
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
        raise KeyError(f'unknown timm model {name!r}; close names: {close}. Our entry points: '
                       f'plugins.cls.MODEL_NAMES; all: timm.list_models()')
    return timm.create_model(name, **kwargs)


def gt_labels(data_samples: Any) -> Tensor | None:
    """Ground-truth labels (N,) from a collated ``dict(gt_label=...)`` or a list of dicts."""
    if data_samples is None:
        return None
    if isinstance(data_samples, dict):
        y = data_samples.get('gt_label')
        return None if y is None else torch.as_tensor(y).long().view(-1)
    ys = [d.get('gt_label') if isinstance(d, dict) else getattr(d, 'gt_label', None)
          for d in data_samples]
    if any(y is None for y in ys):
        return None
    return torch.as_tensor([int(torch.as_tensor(y).view(-1)[0]) for y in ys]).long()


def check_labels(labels: Tensor, num_classes: int, where: str = '') -> None:
    """Raise a ``ValueError`` if a label is outside ``[0, num_classes)``."""
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(
            f'{where}label {int(labels.max()) if int(labels.max()) >= num_classes else int(labels.min())} '
            f'is outside the classifier\'s {num_classes} classes [0, {num_classes - 1}]: the data '
            f'has more classes than the model; set num_classes to match the data')


@MODELS.register_module()
class ClsDataPreprocessor(BaseDataPreprocessor):
    """Stack, move and normalise a batch of images: ``(x - mean) / std``.

    Args:
        mean: per-channel mean in the 0-255 scale.
        std: per-channel std in the 0-255 scale.

    Shapes:
        ``inputs`` (N, C, H, W) uint8 or a list of (C, H, W) -> (N, C, H, W) float.
    """

    def __init__(self, mean: Sequence[float] = (127.5, 127.5, 127.5),
                 std: Sequence[float] = (127.5, 127.5, 127.5)) -> None:
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1),
                             persistent=False)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        x = data['inputs']
        if isinstance(x, (list, tuple)):
            x = torch.stack(list(x))
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(f'images have {x.shape[1]} channels but the preprocessor\'s mean has '
                             f'{self.mean.shape[0]}')
        x = (x.float() - self.mean) / self.std
        return dict(inputs=x, data_samples=data.get('data_samples'))


class _ClassifierBase(BaseModel):
    """``loss`` / ``predict`` / ``tensor`` modes on top of ``self.logits(inputs)``."""

    num_classes: int

    def logits(self, inputs: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, inputs: Tensor, data_samples: Any = None, mode: str = 'tensor') -> Any:
        logits = self.logits(inputs)
        if mode == 'tensor':
            return logits
        labels = gt_labels(data_samples)
        if mode == 'loss':
            if labels is None:
                raise ValueError('mode="loss" needs data_samples with gt_label')
            labels = labels.to(logits.device)
            check_labels(labels, logits.shape[1])
            return dict(loss=F.cross_entropy(logits, labels,
                                             label_smoothing=self.label_smoothing))
        if mode == 'predict':
            scores = logits.softmax(1).detach()
            out = [dict(pred_score=s, pred_label=int(s.argmax())) for s in scores]
            if labels is not None:
                for o, y in zip(out, labels.tolist()):
                    o['gt_label'] = y
            return out
        raise ValueError(f'mode must be loss, predict or tensor, got {mode!r}')


@MODELS.register_module()
class TimmClassifier(_ClassifierBase):
    """Image classifier around a timm model (by name) or a backbone config.

    Args:
        timm_model: a timm model name (``timm.list_models()``; ours: ``plugins.cls.MODEL_NAMES``).
        timm_kwargs: more keyword arguments of ``timm.create_model`` (``width``, ``stem``,
            ``conv_cfg`` ...). ``pretrained`` is allowed only with a local file.
        backbone: instead of ``timm_model``, a config built from mmengine's ``MODELS``. A
            backbone with ``forward_head`` (timm-like, e.g. ``ConvCfgResNet``) is used whole;
            otherwise its (last) feature map is average-pooled into a linear classifier.
        num_classes: number of classes.
        in_channels: channels of the backbone output (only for a backbone without
            ``num_features``).
        label_smoothing: of the cross-entropy loss.
        input_size: ``(C, H, W)``; if given, one no-grad forward of zeros in eval mode at
            construction resolves layers whose parameter shapes depend on the feature-map size
            (``BinaryConv2d`` with ``scale_shape='chw'``/``'rank1'``), so that checkpoints load
            into a freshly built model (``tools/test.py``, ``load_from``).
        data_preprocessor: default :class:`ClsDataPreprocessor`.
        init_cfg: mmengine init config.

    Shapes:
        inputs (N, C, H, W) -> logits (N, num_classes).
    """

    def __init__(self,
                 num_classes: int,
                 timm_model: str | None = None,
                 timm_kwargs: dict | None = None,
                 backbone: dict | None = None,
                 in_channels: int | None = None,
                 label_smoothing: float = 0.0,
                 input_size: Sequence[int] | None = None,
                 data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='ClsDataPreprocessor'),
                         init_cfg=init_cfg)
        if (timm_model is None) == (backbone is None):
            raise ValueError('give exactly one of timm_model (a timm model name) and backbone '
                             '(a config dict)')
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing
        self.head: nn.Module | None = None
        if timm_model is not None:
            self.backbone = create_timm_model(timm_model, num_classes=num_classes,
                                              **(timm_kwargs or {}))
        else:
            cfg = dict(backbone)
            self.backbone = MODELS.build(cfg)
            own = getattr(self.backbone, 'num_classes', 0)
            if hasattr(self.backbone, 'forward_head') and own:
                if own != num_classes:
                    raise ValueError(f'backbone num_classes={own} differs from '
                                     f'num_classes={num_classes}')
            else:
                ch = in_channels or getattr(self.backbone, 'num_features', None)
                if ch is None:
                    raise ValueError(f'backbone {cfg.get("type")!r} has no num_features: give '
                                     f'in_channels (channels of its last feature map)')
                self.head = nn.Linear(ch, num_classes)
        if input_size is not None:
            if len(input_size) != 3:
                raise ValueError(f'input_size is (C, H, W), got {tuple(input_size)}')
            self.eval()
            with torch.no_grad():
                self.logits(torch.zeros(1, *input_size))
            self.train()

    def logits(self, inputs: Tensor) -> Tensor:
        if self.head is None:
            return self.backbone(inputs)
        feats = self.backbone(inputs)
        if isinstance(feats, (list, tuple)):
            feats = feats[-1]
        if feats.dim() == 4:
            feats = feats.mean((2, 3))
        return self.head(feats)


@METRICS.register_module()
class ClsAccuracy(BaseMetric):
    """Top-k classification accuracy (percent) of ``predict`` outputs.

    Args:
        topk: the k values; k larger than the number of classes is skipped.
        prefix: metric name prefix.
    """

    default_prefix = 'cls'

    def __init__(self, topk: Sequence[int] = (1, ), collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            if 'gt_label' not in s:
                raise ValueError('ClsAccuracy needs gt_label in the predictions (a labelled '
                                 'validation set)')
            self.results.append((s['pred_score'].cpu(), int(s['gt_label'])))

    def compute_metrics(self, results: list) -> dict:
        scores = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        check_labels(labels, scores.shape[1], 'ClsAccuracy: ')
        out = {}
        for k in self.topk:
            if k > scores.shape[1]:
                continue
            top = scores.topk(k, dim=1).indices
            out[f'top{k}'] = (top == labels[:, None]).any(1).float().mean().item() * 100
        return out
