"""Heatmap head for stacked networks with intermediate supervision.

The stacked hourglass predicts a heatmap at the end of every stack inside the backbone (the
heatmaps are merged back into the next stack), so this head takes the tuple of per-stack
heatmaps, sums the keypoint loss over the stacks (optionally weighted) and decodes the last
stack's heatmaps with the configured MMPose codec, with MMPose's flip test. An optional
``final_layer`` (1x1 conv per stack) lets it sit on per-stack *features* instead.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmcv.cnn import build_conv_layer
from mmengine.structures import PixelData
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads.base_head import BaseHead
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from torch import Tensor, nn


@MODELS.register_module()
class MultiStackHeatmapHead(BaseHead):
    """Per-stack heatmap supervision, prediction from the last stack.

    Args:
        num_stacks: number of per-stack inputs expected.
        in_channels: channels of each input (== ``out_channels`` without ``final_layer``).
        out_channels: number of keypoints ``K``.
        final_layer: ``None`` (inputs are heatmaps) or a conv config applied per stack,
            e.g. ``dict(kernel_size=1)``.
        loss: keypoint loss config (MMPose), shared by all stacks.
        stack_weights: loss weight per stack (default all 1, Newell's plain sum).
        decoder: MMPose codec config to decode heatmaps.
        init_cfg: init config.

    Shapes:
        forward: tuple of ``num_stacks`` tensors ``(N, in_channels, h, w)`` -> list of
        ``num_stacks`` heatmaps ``(N, K, h, w)``.
    """

    def __init__(self, num_stacks: int, in_channels: int, out_channels: int,
                 final_layer: Optional[dict] = None,
                 loss: dict = dict(type='KeypointMSELoss', use_target_weight=True),
                 stack_weights: Optional[Sequence[float]] = None,
                 decoder: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if num_stacks < 1:
            raise ValueError(f'num_stacks must be >= 1, got {num_stacks}')
        if stack_weights is not None and len(stack_weights) != num_stacks:
            raise ValueError(f'stack_weights has {len(stack_weights)} entries, expected '
                             f'num_stacks={num_stacks}')
        if final_layer is None and in_channels != out_channels:
            raise ValueError(f'without final_layer the inputs are heatmaps, so in_channels '
                             f'({in_channels}) must equal out_channels ({out_channels})')
        self.num_stacks, self.in_channels, self.out_channels = (num_stacks, in_channels,
                                                                out_channels)
        self.stack_weights = list(stack_weights or [1.0] * num_stacks)
        self.loss_module = MODELS.build(loss)
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder is not None else None
        if final_layer is None:
            self.final_layers = nn.ModuleList(nn.Identity() for _ in range(num_stacks))
        else:
            cfg = dict(type='Conv2d', in_channels=in_channels, out_channels=out_channels,
                       kernel_size=1)
            cfg.update(final_layer)
            self.final_layers = nn.ModuleList(build_conv_layer(cfg)
                                              for _ in range(num_stacks))

    def forward(self, feats: Sequence[Tensor]) -> list:
        if len(feats) != self.num_stacks:
            raise ValueError(f'{type(self).__name__} expects {self.num_stacks} per-stack '
                             f'inputs, got {len(feats)}')
        return [layer(f) for layer, f in zip(self.final_layers, feats)]

    def predict(self, feats, batch_data_samples, test_cfg: dict = {}):
        """Decode the last stack's heatmaps (averaged with the flipped ones in flip test).

        Returns:
            list of ``InstanceData`` (``keypoints (1, K, 2)``, ``keypoint_scores (1, K)``),
            plus ``PixelData`` heatmaps when ``test_cfg['output_heatmaps']``.
        """
        if test_cfg.get('flip_test', False):
            _feats, _feats_flip = feats
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            heatmaps = self.forward(_feats)[-1]
            heatmaps_flip = flip_heatmaps(
                self.forward(_feats_flip)[-1],
                flip_mode=test_cfg.get('flip_mode', 'heatmap'),
                flip_indices=flip_indices,
                shift_heatmap=test_cfg.get('shift_heatmap', False))
            heatmaps = (heatmaps + heatmaps_flip) * 0.5
        else:
            heatmaps = self.forward(feats)[-1]
        preds = self.decode(heatmaps)
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=hm) for hm in heatmaps.detach()]
        return preds

    def loss(self, feats, batch_data_samples, train_cfg: dict = {}) -> dict:
        """Sum over stacks of ``stack_weight * loss(stack heatmaps, target)``.

        Returns:
            ``dict(loss_kpt=..., acc_pose=...)`` with ``acc_pose`` from the last stack.
        """
        preds = self.forward(feats)
        gt = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights
                             for d in batch_data_samples])
        loss = sum(w * self.loss_module(p, gt, weights)
                   for w, p in zip(self.stack_weights, preds))
        _, acc, _ = pose_pck_accuracy(output=to_numpy(preds[-1]), target=to_numpy(gt),
                                      mask=to_numpy(weights) > 0)
        return dict(loss_kpt=loss, acc_pose=torch.tensor(acc, device=gt.device))
