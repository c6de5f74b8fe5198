"""ResNet-18/-34 whose 3x3 convolutions are a config choice: real, binary or factorised.

One network class, :class:`ConvCfgResNet`, covers every classification model of the papers:

* the real ResNet baselines (He et al., "Deep residual learning for image recognition"):
  ``skip='block'``, ``shortcut='conv'``, ``conv_cfg=None``;
* binary ResNets in the Bi-Real / XNOR-Net++ layout ("Bi-Real Net", Liu et al., ECCV 2018;
  "XNOR-Net++: Improved binary neural networks", Bulat & Tzimiropoulos, BMVC 2019): real first
  conv and classifier, every 3x3 conv binary (``conv_cfg=dict(type='BinaryConv2d', ...)``)
  with its own real identity skip (``skip='conv'``), real down-sampling shortcuts
  (``shortcut='avgpool'``: 2x2 average pooling, real 1x1 conv, BN), PReLU activations;
* latent-factorised binary ResNets ("Matrix and tensor decompositions for training binary
  neural networks", Bulat et al. 2019): ``BinaryConv2d`` with ``latent=dict(type=...)``;
* CP/Tucker-factorised ResNets ("Factorized higher-order CNNs", Kossaifi et al.):
  ``conv_cfg=dict(type='CPConv' | 'TuckerConv', rank=...)``.

All block convolutions are built by ``mmcv.cnn.build_conv_layer(conv_cfg, ...)``.
The timm entry points live in :mod:`plugins.cls.entrypoints`.
"""
from __future__ import annotations

from typing import Sequence

import torch
from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from mmengine.registry import MODELS
from torch import Tensor, nn

__all__ = ['ConvCfgResNet', 'BasicBlock', 'SKIPS', 'SHORTCUTS', 'STEMS']

SKIPS = ('block', 'conv')
SHORTCUTS = ('conv', 'avgpool')
STEMS = ('imagenet', 'small')


def _act(act_cfg: dict | None, channels: int) -> nn.Module:
    if act_cfg is None:
        return nn.Identity()
    cfg = dict(act_cfg)
    if cfg['type'] == 'PReLU':
        cfg.setdefault('num_parameters', channels)
    return build_activation_layer(cfg)


def _check(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f'{name}={value!r} is not supported; allowed: {list(allowed)}')


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs) with a configurable skip layout.

    ``skip='block'`` (He et al.): ``act(bn2(conv2(act(bn1(conv1(x))))) + shortcut(x))``.
    ``skip='conv'`` (Bi-Real): ``y = act(bn1(conv1(x)) + shortcut(x)); act(bn2(conv2(y)) + y)``.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        stride: stride of the first conv (and of the shortcut).
        conv_cfg: config of the two 3x3 convs (``None``: ``nn.Conv2d``).
        norm_cfg: norm config.
        act_cfg: activation config (``None``: identity).
        skip: ``'block'`` or ``'conv'``.
        shortcut: down-sampling shortcut: ``'conv'`` (strided real 1x1 conv + BN) or
            ``'avgpool'`` (2x2 average pooling + real 1x1 conv + BN).

    Shapes:
        (N, C_in, H, W) -> (N, C_out, H / stride, W / stride).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 conv_cfg: dict | None = None, norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict | None = dict(type='ReLU'), skip: str = 'block',
                 shortcut: str = 'conv') -> None:
        super().__init__()
        _check('skip', skip, SKIPS)
        _check('shortcut', shortcut, SHORTCUTS)
        self.skip = skip
        self.conv1 = build_conv_layer(conv_cfg, in_channels, out_channels, 3, stride, 1,
                                      bias=False)
        self.bn1 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act1 = _act(act_cfg, out_channels)
        self.conv2 = build_conv_layer(conv_cfg, out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.act2 = _act(act_cfg, out_channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            layers: list[nn.Module] = []
            if shortcut == 'avgpool' and stride != 1:
                layers.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
                stride = 1
            layers += [nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                       build_norm_layer(norm_cfg, out_channels)[1]]
            self.downsample = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        if self.skip == 'conv':
            y = self.act1(self.bn1(self.conv1(x)) + identity)
            return self.act2(self.bn2(self.conv2(y)) + y)
        y = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(y)) + identity)


@MODELS.register_module()
class ConvCfgResNet(nn.Module):
    """ResNet (basic blocks) whose block convolutions are built from ``conv_cfg``.

    The stem conv, the 1x1 shortcut convs and the classifier stay real (as in the papers).
    Implements timm's classifier interface (``forward_features``, ``forward_head``,
    ``get_classifier``, ``reset_classifier``, ``feature_info``).

    Args:
        layers: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18, (3, 4, 6, 3) for -34.
        num_classes: classifier outputs (0: no classifier, features only).
        in_chans: input channels.
        width: channels of the first stage (doubled at each later stage).
        stem: ``'imagenet'`` (7x7/2 conv + 3x3/2 max-pool) or ``'small'`` (3x3/1 conv,
            for tiny images such as 8-32 px digits).
        conv_cfg, norm_cfg, act_cfg, skip, shortcut: see :class:`BasicBlock`.
        drop_rate: dropout before the classifier.
        global_pool: ``'avg'`` (the only choice).

    Shapes:
        (N, in_chans, H, W) -> (N, num_classes).
    """

    def __init__(self,
                 layers: Sequence[int] = (2, 2, 2, 2),
                 num_classes: int = 1000,
                 in_chans: int = 3,
                 width: int = 64,
                 stem: str = 'imagenet',
                 conv_cfg: dict | None = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict | None = dict(type='ReLU'),
                 skip: str = 'block',
                 shortcut: str = 'conv',
                 drop_rate: float = 0.0,
                 global_pool: str = 'avg') -> None:
        super().__init__()
        _check('stem', stem, STEMS)
        _check('global_pool', global_pool, ('avg', ))
        self.conv_cfg = conv_cfg
        if stem == 'imagenet':
            self.stem = nn.Sequential(
                nn.Conv2d(in_chans, width, 7, 2, 3, bias=False),
                build_norm_layer(norm_cfg, width)[1], _act(act_cfg, width),
                nn.MaxPool2d(3, 2, 1))
            reduction = 4
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(in_chans, width, 3, 1, 1, bias=False),
                build_norm_layer(norm_cfg, width)[1], _act(act_cfg, width))
            reduction = 1
        self.feature_info = [dict(num_chs=width, reduction=reduction, module='stem')]
        in_ch = width
        for i, n in enumerate(layers):
            out_ch = width * 2**i
            stride = 1 if i == 0 else 2
            reduction *= stride
            blocks = [BasicBlock(in_ch if j == 0 else out_ch, out_ch, stride if j == 0 else 1,
                                 conv_cfg, norm_cfg, act_cfg, skip, shortcut) for j in range(n)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.feature_info.append(dict(num_chs=out_ch, reduction=reduction,
                                          module=f'layer{i + 1}'))
            in_ch = out_ch
        self.num_stages = len(layers)
        self.num_features = self.head_hidden_size = in_ch
        self.drop_rate = drop_rate
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.num_classes = num_classes
        self.fc = nn.Linear(in_ch, num_classes) if num_classes > 0 else nn.Identity()

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            _check('global_pool', global_pool, ('avg', ))
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: Tensor) -> Tensor:
        """(N, in_chans, H, W) -> (N, num_features, H / r, W / r)."""
        x = self.stem(x)
        for i in range(self.num_stages):
            x = getattr(self, f'layer{i + 1}')(x)
        return x

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """(N, num_features, h, w) -> (N, num_classes) (or (N, num_features) pre-logits)."""
        x = self.global_pool(x).flatten(1)
        if self.drop_rate:
            x = nn.functional.dropout(x, self.drop_rate, self.training)
        return x if pre_logits else self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))
