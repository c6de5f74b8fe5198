"""Newell-style stacked hourglass backbone ("Stacked Hourglass Networks for Human Pose
Estimation", Newell et al., ECCV 2016) with configurable blocks, so the same class builds the
real bottleneck hourglass, the binary HPM hourglass of "Hierarchical binary CNNs for landmark
localization with limited resources" and the soft-gated variants.

Each stack predicts heatmaps (intermediate supervision); the heatmaps and features are mapped
back by 1x1 convs and added to the stack's input for the next stack. The backbone returns one
heatmap tensor per stack, for :class:`MultiStackHeatmapHead`.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS
from torch import Tensor, nn

from .gated_skip import SoftGatedSkip
from .layers import PreActConv
from .registry import HOURGLASS_MODULES, build_block, build_hourglass_module
from ..ops.resample import max_pool2x2, upsample2x_add
from ..ops.sums import add3

UPSAMPLE_MODES = ('nearest', 'bilinear')


def make_blocks(block: dict, in_channels: int, out_channels: int, num: int) -> nn.Sequential:
    """``num`` blocks, the first mapping ``in_channels -> out_channels``."""
    return nn.Sequential(*[build_block(block, in_channels if i == 0 else out_channels,
                                       out_channels) for i in range(num)])


def upsample2x(x: Tensor, mode: str) -> Tensor:
    """``F.interpolate(x, scale_factor=2, mode=mode)``; nearest as a broadcast copy (the same
    values, several times faster on the CPU, see :mod:`plugins.ops.resample`).

    Shape: (N, C, h, w) -> (N, C, 2h, 2w).
    """
    if mode == 'nearest':
        n, c, h, w = x.shape
        return x.reshape(n, c, h, 1, w, 1).expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)
    return F.interpolate(x, scale_factor=2, mode=mode, align_corners=False)


@HOURGLASS_MODULES.register_module()
class HourglassModule(nn.Module):
    """One hourglass (Newell): at every scale an upper (skip) branch of ``num_blocks`` blocks
    and a lower branch ``pool -> blocks -> (inner hourglass | blocks) -> blocks -> upsample``,
    merged by addition.

    Args:
        depth: number of 2x downsamplings (Newell: 4).
        channels: feature channels ``C`` at every scale.
        block: block config (see :func:`build_block`).
        num_blocks: blocks per position (Newell: 1).
        skip_gate: scale the upper branch by a per-channel :class:`SoftGatedSkip` before the
            addition (the soft-gated hourglass skip branch).
        upsample: ``'nearest'`` (Newell) or ``'bilinear'``.
        level_channels: widths of the ``depth + 1`` scales, top (input) scale first, e.g.
            ``(64, 128, 192, 256)``; ``None`` keeps ``channels`` at every scale (Newell).
            Wider low-resolution scales add capacity where it is cheap (as MMPose's
            ``HourglassNet`` does with ``stage_channels``): the ``down`` blocks widen and the
            ``after`` blocks narrow back.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``; ``H`` and ``W`` must be divisible by ``2**depth``.
    """

    def __init__(self, depth: int, channels: int, block: dict, num_blocks: int = 1,
                 skip_gate: bool = False, upsample: str = 'nearest',
                 level_channels: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        _check_common(depth, num_blocks, upsample)
        widths = level_widths(depth, channels, level_channels)
        c, low = widths[0], widths[1]
        self.depth, self.upsample = depth, upsample
        self.up = make_blocks(block, c, c, num_blocks)
        self.gate = SoftGatedSkip(c) if skip_gate else nn.Identity()
        self.down = make_blocks(block, c, low, num_blocks)
        self.inner = (HourglassModule(depth - 1, low, block, num_blocks, skip_gate, upsample,
                                      widths[1:]) if depth > 1 else
                      make_blocks(block, low, low, num_blocks))
        self.after = make_blocks(block, low, c, num_blocks)

    def forward(self, x: Tensor) -> Tensor:
        up1 = self.gate(self.up(x))
        low = self.after(self.inner(self.down(max_pool2x2(x))))
        return upsample2x_add(up1, low, self.upsample)


def level_widths(depth: int, channels: int,
                 level_channels: Optional[Sequence[int]]) -> List[int]:
    """The widths of the ``depth + 1`` scales of an hourglass, top scale first.

    Raises:
        ValueError: if ``level_channels`` has the wrong length, does not start at
            ``channels`` or holds a non-positive width.
    """
    if level_channels is None:
        return [channels] * (depth + 1)
    widths = [int(c) for c in level_channels]
    if len(widths) != depth + 1 or widths[0] != channels or min(widths) <= 0:
        raise ValueError(f'level_channels must hold depth + 1 = {depth + 1} positive widths '
                         f'starting with channels={channels}, got {list(level_channels)}')
    return widths


def _check_common(depth: int, num_blocks: int, upsample: str) -> None:
    if depth < 1:
        raise ValueError(f'hourglass depth must be >= 1, got {depth}')
    if num_blocks < 1:
        raise ValueError(f'num_blocks must be >= 1, got {num_blocks}')
    if upsample not in UPSAMPLE_MODES:
        raise ValueError(f'unknown upsample {upsample!r}; allowed: {list(UPSAMPLE_MODES)}')


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 pre_norm: bool = False) -> nn.Sequential:
    """A post-activation ``conv -> BN -> ReLU`` (stem and per-stack feature layer); with
    ``pre_norm`` a ``BN`` before the conv too (``BN -> conv -> BN -> ReLU``: the binary-friendly
    order, the conv binarising a normalised input)."""
    norm = (lambda: build_norm_layer(norm_cfg, in_channels)[1]) if norm_cfg else nn.Identity
    return nn.Sequential(
        *([norm()] if pre_norm else []),
        build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size, stride=stride,
                         padding=kernel_size // 2, bias=norm_cfg is None),
        build_norm_layer(norm_cfg, out_channels)[1] if norm_cfg else nn.Identity(),
        nn.ReLU(inplace=True))


def merge_conv(in_channels: int, out_channels: int, conv_cfg: Optional[dict],
               norm_cfg: Optional[dict], pre_norm: bool) -> nn.Module:
    """A per-stack 1x1 merge conv (features or heatmaps back to the hourglass width); with
    ``pre_norm`` a :class:`PreActConv` ``BN -> conv`` (no activation: a binary conv binarises
    its input itself), otherwise the bare conv (Newell).

    Shape: ``(N, in_channels, H, W) -> (N, out_channels, H, W)``.
    """
    if not pre_norm:
        return build_conv_layer(conv_cfg, in_channels, out_channels, 1)
    return PreActConv(in_channels, out_channels, 1, conv_cfg, norm_cfg, act_cfg=None,
                      bias=True)


@MODELS.register_module()
class StackedHourglass(BaseBackbone):
    """Stacked hourglass backbone with intermediate supervision.

    Args:
        num_stacks: number of hourglasses (>= 1).
        depth: downsamplings inside each hourglass.
        channels: feature channels inside the hourglasses.
        out_channels: heatmap channels predicted by every stack (number of keypoints, or of
            part labels for segmentation).
        block: block config, e.g. ``dict(type='PreActBottleneck')`` or
            ``dict(type='HPMBlock', conv_cfg=dict(type='BinaryConv2d', scale='learned'),
            act_cfg=None)``.
        num_blocks: blocks per hourglass position and after each hourglass.
        hourglass: per-stack module config, ``dict(type='HourglassModule')`` (Newell) or
            ``dict(type='HybridHourglassModule', ...)`` plus their options.
        stem_channels: channels after the 7x7 stem conv and after the first stem block.
        stem_pool_first: max-pool before the first stem block instead of after it, so
            every block runs at ``H/4`` (Newell runs the first one at ``H/2``); at 128x128
            this removes about a quarter of a small hourglass's FLOPs.
        stem_conv_cfg: conv config of the first 7x7 conv (kept real by default).
        head_conv_cfg: conv config of the per-stack 1x1 heatmap convs (real by default, like
            the first and last layers of the papers), and of the feature and merge convs
            unless ``feature_conv_cfg`` is given.
        feature_conv_cfg: conv config of the per-stack 1x1 ``features`` conv and of the
            ``merge_features`` / ``merge_heatmaps`` convs; ``None``: ``head_conv_cfg``. A
            binary conv here (``dict(type='BinaryConv2d', ...)``) wants ``feature_pre_norm``.
        feature_pre_norm: a BatchNorm before each of those convs: ``features`` becomes
            ``BN -> conv -> BN -> ReLU`` and each merge ``BN -> conv``, the binary-friendly
            order of the blocks (a binary conv binarises its input; without the norm the
            merge of the features would read the ReLU's output, whose signs are all +1).
        norm_cfg: norm config of the stem and per-stack layers.
        in_channels: image channels.
        heatmap_init_std: std of the normal init of the heatmap convs (bias 0), see
            :meth:`reset_heatmap_layers`; ``None`` for PyTorch's default init.
        init_cfg: mmengine init config.

    Shape:
        input ``(N, in_channels, H, W)``, ``H, W`` divisible by ``4 * 2**depth``;
        output: tuple of ``num_stacks`` tensors ``(N, out_channels, H/4, W/4)``.
    """

    def __init__(self, num_stacks: int = 2, depth: int = 4, channels: int = 256,
                 out_channels: int = 16,
                 block: dict = dict(type='PreActBottleneck'), num_blocks: int = 1,
                 hourglass: Optional[dict] = None,
                 stem_channels: Sequence[int] = (64, 128), stem_pool_first: bool = False,
                 stem_conv_cfg: Optional[dict] = None,
                 head_conv_cfg: Optional[dict] = None,
                 feature_conv_cfg: Optional[dict] = None, feature_pre_norm: bool = False,
                 norm_cfg: dict = dict(type='BN'), in_channels: int = 3,
                 heatmap_init_std: Optional[float] = 0.001,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if not isinstance(num_stacks, int) or num_stacks < 1:
            raise ValueError(f'num_stacks must be an integer >= 1, got {num_stacks!r}')
        if depth < 1:
            raise ValueError(f'depth must be >= 1, got {depth}')
        if channels <= 0 or out_channels <= 0:
            raise ValueError(f'channels and out_channels must be positive, got '
                             f'{channels}, {out_channels}')
        self.num_stacks, self.depth = num_stacks, depth
        s0, s1 = stem_channels
        first = [build_block(block, s0, s1), nn.MaxPool2d(2, 2)]
        self.stem = nn.Sequential(
            conv_bn_relu(in_channels, s0, 7, 2, stem_conv_cfg, norm_cfg),
            *(first[::-1] if stem_pool_first else first),
            build_block(block, s1, s1), build_block(block, s1, channels))
        hg_cfg = dict(hourglass) if hourglass else dict(type='HourglassModule')
        self.hourglasses = nn.ModuleList(
            build_hourglass_module(hg_cfg, depth=depth, channels=channels, block=block,
                                   num_blocks=num_blocks) for _ in range(num_stacks))
        feat_cfg = head_conv_cfg if feature_conv_cfg is None else feature_conv_cfg
        self.features = nn.ModuleList(nn.Sequential(
            make_blocks(block, channels, channels, num_blocks),
            conv_bn_relu(channels, channels, 1, 1, feat_cfg, norm_cfg, feature_pre_norm))
            for _ in range(num_stacks))
        self.heatmaps = nn.ModuleList(
            build_conv_layer(head_conv_cfg, channels, out_channels, 1)
            for _ in range(num_stacks))
        self.reset_heatmap_layers(heatmap_init_std)
        self.merge_features = nn.ModuleList(
            merge_conv(channels, channels, feat_cfg, norm_cfg, feature_pre_norm)
            for _ in range(num_stacks - 1))
        self.merge_heatmaps = nn.ModuleList(
            merge_conv(out_channels, channels, feat_cfg, norm_cfg, feature_pre_norm)
            for _ in range(num_stacks - 1))

    def reset_heatmap_layers(self, std: Optional[float]) -> None:
        """Draw the per-stack heatmap convs from ``N(0, std)`` with zero bias.

        The predicted heatmaps then start at ~0, as in MMPose's ``HeatmapHead``. With
        PyTorch's default init they start at about the size of the target peaks, and the
        network spends its first few hundred iterations shrinking them (measured on the
        embedded MPII set, docs/pose.md). ``None`` keeps PyTorch's default.
        """
        if std is None:
            return
        for conv in self.heatmaps:
            if isinstance(conv, nn.Conv2d) and 'weight' in conv._parameters:
                nn.init.normal_(conv.weight, std=std)
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)

    def train(self, mode: bool = True) -> 'StackedHourglass':
        # mmpose's BaseBackbone.train returns None; keep nn.Module's chaining contract
        super().train(mode)
        return self

    @property
    def stride(self) -> int:
        """Input size must be a multiple of this."""
        return 4 * 2 ** self.depth

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        h, w = x.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(
                f'StackedHourglass(depth={self.depth}) needs an input height and width '
                f'divisible by 4 * 2**depth = {self.stride}, got {h}x{w}')
        x = self.stem(x)
        outs = []
        for i in range(self.num_stacks):
            y = self.features[i](self.hourglasses[i](x))
            hm = self.heatmaps[i](y)
            outs.append(hm)
            if i < self.num_stacks - 1:
                # x + merge_features(y) + merge_heatmaps(hm), in one pass (the same values)
                x = add3(x, self.merge_features[i](y), self.merge_heatmaps[i](hm))
        return tuple(outs)
