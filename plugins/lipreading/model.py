"""Word-level lip-reading network: 3-D conv front-end, per-frame ResNet-18, BiGRU/TCN back-end.

The architecture of "Towards pose-invariant lip-reading" (after Stafylakis & Tzimiropoulos,
"Combining residual networks with LSTMs for lipreading"; TCN back-end after Martinez et al.,
"Lipreading using temporal convolutional networks"): grey mouth clips ``(B, 1, T, H, W)`` ->
``Conv3d(5x7x7, stride 1x2x2)`` + BN + ReLU + max-pool -> ResNet-18 trunk applied to every
frame -> global average pool -> temporal back-end -> mean over time -> word classifier.
Widths and depths are config options so a tiny variant trains on a CPU. The trunk builds its
convolutions through mmcv (``conv_cfg``), so binary or factorised convolutions of this toolbox
can be swapped in from a config.

Options after the public reference code of the group (``mpc001/end-to-end-lipreading``,
video-only model): a per-frame ``bottleneck`` (linear to 256-d + BatchNorm1d after the trunk),
the BiGRU width (``hidden`` 512 there, 1024 cells in its README), its temporal-convolution back
end ``'tconv'`` (stage 1 of its schedule) and ``frozen`` sub-modules (stage 2 trains the GRU on
a frozen front-end/trunk/bottleneck); see ``configs/lipreading/lipnet_resnet18_*_stage*.py``.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.registry import MODELS
from mmengine.structures import BaseDataElement

__all__ = ['LipDataPreprocessor', 'LipReadingNet', 'ResNetTrunk', 'TemporalConvNet', 'BiGRU',
           'ReferenceTemporalConv', 'BACKENDS', 'FREEZABLE']

#: sub-modules that ``LipReadingNet(frozen=...)`` can freeze
FREEZABLE = ('frontend', 'trunk', 'bottleneck', 'backend', 'classifier')


@MODELS.register_module()
class LipDataPreprocessor(BaseDataPreprocessor):
    """Stack uint8 clips ``(1, T, H, W)`` into ``(B, 1, T, H, W)`` float, ``(x/255-mean)/std``.

    Args:
        mean, std: Grey-level normalisation in [0, 1] units (LRW: 0.421, 0.165).
    """

    def __init__(self, mean: float = 0.421, std: float = 0.165) -> None:
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            shapes = {tuple(x.shape) for x in inputs}
            if len(shapes) != 1:
                raise ValueError(f'clips in a batch must share one shape, got {sorted(shapes)}')
            inputs = torch.stack(list(inputs))
        inputs = (inputs.float() / 255.0 - self.mean) / self.std
        return dict(inputs=inputs, data_samples=data.get('data_samples'))


class BasicBlock(nn.Module):
    """ResNet basic block with mmcv-built convolutions/norms."""

    def __init__(self, cin: int, cout: int, stride: int, conv_cfg, norm_cfg) -> None:
        super().__init__()
        self.conv1 = build_conv_layer(conv_cfg, cin, cout, 3, stride=stride, padding=1,
                                      bias=False)
        self.bn1 = build_norm_layer(norm_cfg, cout)[1]
        self.conv2 = build_conv_layer(conv_cfg, cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, cout)[1]
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                build_conv_layer(conv_cfg, cin, cout, 1, stride=stride, bias=False),
                build_norm_layer(norm_cfg, cout)[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idt = x if self.down is None else self.down(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + idt)


class ResNetTrunk(nn.Module):
    """ResNet-18-style 2-D trunk (no stem): ``(N, C0, H, W)`` -> ``(N, widths[-1])``.

    Args:
        in_channels: Channels from the front-end.
        widths: Stage widths (ResNet-18: 64, 128, 256, 512).
        blocks: Blocks per stage (ResNet-18: 2, 2, 2, 2).
        conv_cfg, norm_cfg: mmcv layer configs.
    """

    def __init__(self, in_channels: int, widths: Sequence[int] = (64, 128, 256, 512),
                 blocks: Sequence[int] = (2, 2, 2, 2), conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        if len(widths) != len(blocks):
            raise ValueError(f'widths {widths} and blocks {blocks} must have the same length')
        layers, cin = [], in_channels
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(BasicBlock(cin, w, 2 if (j == 0 and i > 0) else 1, conv_cfg,
                                         norm_cfg))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.layers(x), 1).flatten(1)


class TemporalConvNet(nn.Module):
    """Residual dilated temporal convolutions ``(B, T, C)`` -> ``(B, T, channels)``."""
    pools_time = False

    def __init__(self, in_channels: int, channels: int = 256, kernel_size: int = 3,
                 dilations: Sequence[int] = (1, 2, 4), dropout: float = 0.2) -> None:
        super().__init__()
        self.inp = nn.Conv1d(in_channels, channels, 1)
        self.blocks = nn.ModuleList([
            nn.Sequential(
                nn.Conv1d(channels, channels, kernel_size, padding=d * (kernel_size - 1) // 2,
                          dilation=d), nn.BatchNorm1d(channels), nn.ReLU(inplace=True),
                nn.Dropout(dropout)) for d in dilations
        ])
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.inp(x.transpose(1, 2))
        for b in self.blocks:
            y = y + b(y)
        return y.transpose(1, 2)


class BiGRU(nn.GRU):
    """Bidirectional GRU back-end ``(B, T, C)`` -> ``(B, T, 2 * hidden)``.

    Args:
        in_channels: Per-frame feature size.
        hidden: Cells per direction (reference code: 512; its README: 1024).
        layers: Stacked layers (reference: 2).
        dropout: Dropout between layers.
    """
    pools_time = False

    def __init__(self, in_channels: int, hidden: int = 256, layers: int = 2,
                 dropout: float = 0.0) -> None:
        super().__init__(in_channels, hidden, num_layers=layers, batch_first=True,
                         bidirectional=True, dropout=dropout)
        self.out_channels = 2 * hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)[0]


class ReferenceTemporalConv(nn.Module):
    """The reference's temporal-convolution back end (stage 1 of its schedule):
    ``(B, T, D)`` -> ``Conv1d(D, 2D, 5, stride 2)`` + BN + ReLU + max-pool 2 ->
    ``Conv1d(2D, 4D, 5, stride 2)`` + BN + ReLU -> mean over time -> ``Linear(4D, D)`` + BN +
    ReLU -> ``(B, D)``; the model's classifier ``Linear(D, num_classes)`` follows, as in the
    reference. Needs ``T >= 23``.

    Args:
        in_channels: ``D``, the per-frame feature size (reference: the 256-d bottleneck).
    """
    pools_time = True

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        d = in_channels
        self.convs = nn.Sequential(
            nn.Conv1d(d, 2 * d, 5, 2, bias=False), nn.BatchNorm1d(2 * d), nn.ReLU(inplace=True),
            nn.MaxPool1d(2, 2),
            nn.Conv1d(2 * d, 4 * d, 5, 2, bias=False), nn.BatchNorm1d(4 * d), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Linear(4 * d, d), nn.BatchNorm1d(d), nn.ReLU(inplace=True))
        self.out_channels = d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x.transpose(1, 2)).mean(2))


#: back-end name -> class; each takes ``in_channels`` first and has ``out_channels`` and
#: ``pools_time`` (True: returns ``(B, D)``, else ``(B, T, D)``)
BACKENDS = {'bigru': BiGRU, 'tcn': TemporalConvNet, 'tconv': ReferenceTemporalConv}


@MODELS.register_module()
class LipReadingNet(BaseModel):
    """Word classifier for mouth clips (see the module docstring).

    Args:
        num_classes: Vocabulary size (LRW: 500).
        front_channels: Output channels of the 3-D conv front-end (paper: 64).
        widths, blocks: ResNet trunk stages (paper: ResNet-18).
        backend: ``dict(type='bigru', hidden=256, layers=2)``,
            ``dict(type='tcn', channels=256, kernel_size=3, dilations=(1, 2, 4))`` or
            ``dict(type='tconv')`` (the reference's temporal-conv back end).
        bottleneck: Per-frame linear projection of the trunk features to this size followed by
            BatchNorm1d (reference: 256), or None.
        frozen: Sub-modules (of :data:`FREEZABLE`) whose parameters get
            ``requires_grad=False`` (reference stage 2: frontend, trunk, bottleneck). Batch-norm
            statistics keep updating in training mode, as in the reference.
        dropout: Dropout before the classifier.
        label_smoothing: Cross-entropy label smoothing.
        conv_cfg, norm_cfg: mmcv configs for the trunk's layers.
        min_frames: Shortest clip accepted (clear error on shorter input).
        data_preprocessor: Default :class:`LipDataPreprocessor`.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 num_classes: int = 500,
                 front_channels: int = 64,
                 widths: Sequence[int] = (64, 128, 256, 512),
                 blocks: Sequence[int] = (2, 2, 2, 2),
                 backend: Optional[dict] = None,
                 bottleneck: Optional[int] = None,
                 frozen: Sequence[str] = (),
                 dropout: float = 0.2,
                 label_smoothing: float = 0.0,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 min_frames: int = 1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='LipDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        backend = dict(type='bigru') if backend is None else dict(backend)
        kind = backend.pop('type')
        if kind not in BACKENDS:
            raise ValueError(f'backend type must be one of {tuple(BACKENDS)}, got {kind!r}')
        bad = [f for f in frozen if f not in FREEZABLE]
        if bad:
            raise ValueError(f'frozen must name sub-modules among {FREEZABLE}, got {bad}')
        self.min_frames = min_frames
        self.frontend = nn.Sequential(
            nn.Conv3d(1, front_channels, (5, 7, 7), stride=(1, 2, 2), padding=(2, 3, 3),
                      bias=False), nn.BatchNorm3d(front_channels), nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)))
        self.trunk = ResNetTrunk(front_channels, widths, blocks, conv_cfg, norm_cfg)
        feat = self.trunk.out_channels
        self.bottleneck = None
        if bottleneck:
            self.bottleneck = nn.Sequential(nn.Linear(feat, bottleneck),
                                            nn.BatchNorm1d(bottleneck))
            feat = bottleneck
        self.backend = BACKENDS[kind](feat, **backend)
        self.backend_type = kind
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.backend.out_channels, num_classes)
        self.label_smoothing = label_smoothing
        self.frozen = tuple(frozen)
        for name in self.frozen:
            module = getattr(self, name)
            if module is None:
                raise ValueError(f'cannot freeze {name!r}: the model has none')
            for p in module.parameters():
                p.requires_grad_(False)

    def frame_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(B, 1, T, H, W)`` -> per-frame trunk (+ bottleneck) features ``(B, T, F)``."""
        if inputs.dim() != 5 or inputs.shape[1] != 1:
            raise ValueError(f'expected grey clips (B, 1, T, H, W), got {tuple(inputs.shape)}')
        b, _, t = inputs.shape[:3]
        if t < self.min_frames:
            raise ValueError(f'clip has {t} frames; the model needs at least min_frames='
                             f'{self.min_frames}')
        x = self.frontend(inputs)                                   # (B, C, T, H', W')
        x = x.transpose(1, 2).reshape(b * t, *x.shape[1:2], *x.shape[3:])
        x = self.trunk(x)
        if self.bottleneck is not None:
            x = self.bottleneck(x)
        return x.reshape(b, t, -1)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Back-end output: ``(B, T, D)`` per-frame features, or ``(B, D)`` for a back-end that
        pools over time itself (``'tconv'``)."""
        return self.backend(self.frame_features(inputs))

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor') -> Union[torch.Tensor, Dict[str, torch.Tensor], list]:
        """``mode='tensor'``: logits ``(B, K)``; ``'loss'``: dict; ``'predict'``: samples."""
        out = self.extract_feat(inputs)
        logits = self.classifier(self.dropout(out if self.backend.pools_time else out.mean(1)))
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            labels = torch.cat([s.gt_label for s in data_samples]).to(logits.device)
            loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
            acc = (logits.argmax(1) == labels).float().mean()
            return dict(loss=loss, acc=acc.detach())
        if mode == 'predict':
            scores = logits.softmax(1)
            out = []
            for i, s in enumerate(data_samples):
                s = s.clone()
                s.pred_score = scores[i].detach()
                s.pred_label = scores[i].argmax().view(1).detach()
                out.append(s)
            return out
        raise ValueError(f'mode must be "tensor", "loss" or "predict", got {mode!r}')
