"""Heads built on the tensor regression layer (:class:`plugins.tensor.tensor_layers.TRL`).

- :class:`TRLClassifier` (mmengine ``MODELS``): a timm network (or any module with
  ``forward_features``) whose pooling + fully-connected classifier is replaced by a TRL on the
  un-pooled feature tensor, "Tensor Regression Networks" (Kossaifi et al., JMLR 2020).
- :class:`TRLHeatmapHead` (MMPose ``MODELS``): heatmaps regressed from the last feature map by
  a low-rank TRL with tensor output (C, h, w) -> (K, H, W). It is a *global* linear map
  (every heatmap pixel sees the whole feature map), so it suits small heatmaps and low ranks;
  on 32x32 heatmaps a 1x1-conv head is the stronger choice and this head is best used as a
  parameter-lean alternative to a fully-connected regression head.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS as ENGINE_MODELS
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS as POSE_MODELS

from .tensor_layers import TRL


@ENGINE_MODELS.register_module()
class TRLClassifier(nn.Module):
    """Image classifier = feature extractor + TRL head.

    Args:
        backbone: a timm model name (built with ``pretrained=False``, ``num_classes=0``,
            ``global_pool=''``) or a module with ``forward_features``.
        num_classes: classes.
        input_size: (C, H, W) of the images, used once to infer the feature shape.
        rank: TRL rank (int, float ratio, or per-mode ranks of ``feature_shape + (classes,)``).
        factorization: ``'tucker'`` or ``'cp'``.
        backbone_kwargs: more options for ``timm.create_model``.

    Shapes: (N, C, H, W) -> logits (N, num_classes).
    """

    def __init__(self, backbone: Union[str, nn.Module], num_classes: int,
                 input_size: Sequence[int] = (3, 224, 224),
                 rank: Union[int, float, Sequence[int]] = 0.1, factorization: str = 'tucker',
                 backbone_kwargs: Optional[dict] = None) -> None:
        super().__init__()
        if isinstance(backbone, str):
            import timm
            backbone = timm.create_model(backbone, pretrained=False, num_classes=0,
                                         global_pool='', **(backbone_kwargs or {}))
        if not hasattr(backbone, 'forward_features'):
            raise ValueError(f'TRLClassifier needs a backbone with forward_features, got '
                             f'{type(backbone).__name__}')
        self.backbone = backbone
        was_training = backbone.training
        backbone.eval()
        with torch.no_grad():
            feats = backbone.forward_features(torch.zeros(1, *input_size))
        backbone.train(was_training)
        self.feature_shape: Tuple[int, ...] = tuple(feats.shape[1:])
        self.head = TRL(self.feature_shape, num_classes, rank=rank, factorization=factorization)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.forward_features(x))


@POSE_MODELS.register_module()
class TRLHeatmapHead(HeatmapHead):
    """MMPose heatmap head whose prediction is a TRL from features to heatmaps.

    Args:
        in_channels: feature channels C.
        out_channels: keypoints K.
        in_size: feature (h, w).
        heatmap_size: heatmap (H, W) (MMPose order is (W, H) in codecs; pass (H, W) here).
        rank: TRL rank over the modes (C, h, w, K, H, W); int, float ratio or 6 ranks.
        factorization: ``'tucker'`` or ``'cp'``.
        loss, decoder, init_cfg: as :class:`mmpose.models.heads.HeatmapHead`.

    Shapes: feats[-1] (N, C, h, w) -> heatmaps (N, K, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, in_size: Sequence[int],
                 heatmap_size: Sequence[int], rank: Union[int, float, Sequence[int]] = 8,
                 factorization: str = 'cp',
                 loss: dict = dict(type='KeypointMSELoss', use_target_weight=True),
                 decoder: Optional[dict] = None, init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, out_channels, deconv_out_channels=None,
                         conv_out_channels=None, final_layer=None, loss=loss, decoder=decoder,
                         init_cfg=init_cfg)
        self.trl = TRL((in_channels, *in_size), (out_channels, *heatmap_size), rank=rank,
                       factorization=factorization)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        return self.trl(feats[-1])
