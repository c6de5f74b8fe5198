"""Per-pixel part labelling with a stacked (binary) hourglass: the facial part segmentation
experiment of "Hierarchical binary CNNs for landmark localization with limited resources".

The backbone (``StackedHourglass`` with ``out_channels=num_classes``) gives per-stack class
logits at 1/4 resolution; :class:`MultiStackSegHead` upsamples them to the input size and sums
the per-pixel cross-entropy over stacks; :class:`FacePartSegmentor` is the mmengine model
(``loss`` / ``predict`` / ``tensor`` modes) that Runner trains with a ``FacePartsDataset``.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel, BaseModule
from mmengine.structures import PixelData
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class MultiStackSegHead(BaseModule):
    """Cross-entropy per stack on logits upsampled to the label size; predicts from the last.

    Args:
        num_stacks: number of per-stack logit maps.
        num_classes: number of labels.
        stack_weights: loss weight of each stack (default all 1).
        ignore_index: label value ignored by the loss.

    Shapes:
        input: tuple of ``(N, num_classes, h, w)``; labels ``(N, H, W)``;
        :meth:`predict` returns ``(N, H, W)`` labels and ``(N, num_classes, H, W)`` scores.
    """

    def __init__(self, num_stacks: int, num_classes: int,
                 stack_weights: Optional[Sequence[float]] = None, ignore_index: int = 255,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        if stack_weights is not None and len(stack_weights) != num_stacks:
            raise ValueError(f'stack_weights has {len(stack_weights)} entries, expected '
                             f'{num_stacks}')
        self.num_stacks, self.num_classes, self.ignore_index = (num_stacks, num_classes,
                                                                ignore_index)
        self.stack_weights = list(stack_weights or [1.0] * num_stacks)

    def _check(self, feats: Sequence[Tensor]) -> None:
        if len(feats) != self.num_stacks or feats[-1].shape[1] != self.num_classes:
            raise ValueError(f'{type(self).__name__} expects {self.num_stacks} maps of '
                             f'{self.num_classes} channels, got {len(feats)} of '
                             f'{feats[-1].shape[1]}')

    def loss(self, feats: Sequence[Tensor], labels: Tensor) -> dict:
        self._check(feats)
        size = labels.shape[-2:]
        loss = sum(w * F.cross_entropy(F.interpolate(f, size, mode='bilinear',
                                                     align_corners=False), labels,
                                       ignore_index=self.ignore_index)
                   for w, f in zip(self.stack_weights, feats))
        return dict(loss_seg=loss)

    def predict(self, feats: Sequence[Tensor], size) -> Tensor:
        self._check(feats)
        return F.interpolate(feats[-1], size, mode='bilinear', align_corners=False).softmax(1)


@MODELS.register_module()
class FacePartSegmentor(BaseModel):
    """Backbone + :class:`MultiStackSegHead`, trained on ``PackSegInputs`` batches.

    Args:
        backbone: backbone config (e.g. the binary HPM ``StackedHourglass``).
        head: ``MultiStackSegHead`` config.
        data_preprocessor: mmengine ``ImgDataPreprocessor`` config (mean/std, BGR->RGB).
        flip_test: average the prediction with the flipped image's (parts swapped).
        flip_pairs: label pairs exchanged by a horizontal flip.
    """

    def __init__(self, backbone: dict, head: dict,
                 data_preprocessor: Optional[dict] = None, flip_test: bool = False,
                 flip_pairs: Sequence[Sequence[int]] = ((2, 3), (4, 5)),
                 init_cfg=None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)
        self.flip_test = flip_test
        self.flip_pairs = [tuple(p) for p in flip_pairs]

    def forward(self, inputs: Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.backbone(inputs)
        if mode == 'loss':
            labels = torch.cat([s.gt_sem_seg.data for s in data_samples]).long()
            return self.head.loss(self.backbone(inputs), labels)
        if mode == 'predict':
            scores = self.head.predict(self.backbone(inputs), inputs.shape[-2:])
            if self.flip_test:
                flipped = self.head.predict(self.backbone(inputs.flip(-1)),
                                            inputs.shape[-2:]).flip(-1)
                perm = list(range(flipped.shape[1]))
                for a, b in self.flip_pairs:
                    perm[a], perm[b] = b, a
                scores = 0.5 * (scores + flipped[:, perm])
            labels = scores.argmax(1)
            for s, lab, sc in zip(data_samples, labels, scores):
                s.pred_sem_seg = PixelData(data=lab[None])
                s.seg_scores = PixelData(data=sc)
            return data_samples
        raise ValueError(f"unknown mode {mode!r}; allowed: ['tensor', 'loss', 'predict']")
