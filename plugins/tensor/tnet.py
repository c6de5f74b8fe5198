"""T-Net: a stacked hourglass whose convolutions are slices of one 8th-order tensor.

"T-Net: Parametrizing Fully Convolutional Nets with a Single High-Order Tensor" (Kossaifi et
al., CVPR 2019). Every 3x3 convolution inside the hourglasses is the slice
``W[s, d, b, c]`` of a tensor ``W`` of shape

    (stacks, depth, blocks, convs, in, out, kh, kw)       (8 modes)

held in Tucker form ``W = G x_1 U_stacks x_2 U_depth ... x_8 U_kw`` with one factor per mode,
so the network's design dimensions share structure and the compression ratio is set by the
ranks. ``compression=None`` stores ``W`` densely: the uncompressed hourglass of the same
architecture (the baseline). Tensor dropout ("Stochastically rank-regularized tensor
regression networks", Kossaifi et al.) randomly drops rank-one slices of the core during
training.

Architecture (one hourglass of depth D; level ``d`` at resolution / 2**d)::

    level(d, x) = block[d, skip](x)
                  + up2(block[d, up]( level(d+1, block[d, down](pool(x))) ))   (d < D-1)
                  + up2(block[d, up]( block[d, down](pool(x)) ))                  (d = D-1)
    block[d, b](x) = x + conv[d,b,C-1](relu(bn(... conv[d,b,0](relu(bn(x))) ...)))

so ``blocks = 3`` (skip, down, up) and ``convs`` is the number of pre-activation 3x3 convs per
residual block. The stem (7x7 conv stride 2 + 3x3 conv + max-pool, stride 4) and the per-stack
1x1 heads are ordinary layers, as in the paper. The backbone returns one heatmap tensor per
stack for :class:`plugins.pose.MultiStackHeatmapHead` (intermediate supervision).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS

from ..pose.hourglass import StackedHourglass
from .factorized_conv import tucker_to_tensor
from .ranks import tucker_params

#: Names of the eight modes of the T-Net tensor, in order.
TNET_MODES = ('stacks', 'depth', 'blocks', 'convs', 'in', 'out', 'kh', 'kw')


#: Rank schemes: which modes a compression ratio reduces, and whether the ranks are then
#: raised greedily until the budget is filled. ``'all_modes'`` (default): every mode's rank is
#: the same fraction of its size, then filled; ``'in_out'``: only the channel modes, one
#: fraction, no filling (the scheme of earlier versions).
RANK_SCHEMES = {
    'all_modes': dict(compress_modes=TNET_MODES, fill=True),
    'in_out': dict(compress_modes=('in', 'out'), fill=False),
}


def tnet_ranks(shape: Sequence[int], compression: float,
               compress_modes: Sequence[str] = TNET_MODES,
               fill: bool = True) -> Tuple[int, ...]:
    """Tucker ranks whose parameter count is at most ``compression * prod(shape)``.

    The compression ratio is the number of parameters of the Tucker form (core + factors)
    over that of the dense tensor. The ranks of ``compress_modes`` are the same fraction of
    their sizes (rounded half up, at least 1), the largest fraction that fits; the other modes
    keep full rank. With ``fill``, the ranks of ``compress_modes`` are then raised one at a
    time while the budget allows, always the mode whose rank is the smallest fraction of its
    size (the larger mode on ties), so that rounding the small modes (2 or 3 stacks, blocks,
    kernel taps) does not leave much of the budget unused and the fractions stay balanced.

    Args:
        shape: the 8 mode sizes.
        compression: ratio in (0, 1].
        compress_modes: names (from :data:`TNET_MODES`) of the modes whose ranks are reduced.
        fill: raise the ranks greedily after the common fraction is found.

    Returns:
        8 ranks.

    Raises:
        ValueError: ratio outside (0, 1], unknown mode name, or a budget too small even for
            rank 1 on the compressed modes.
    """
    if not 0 < compression <= 1:
        raise ValueError(f'compression must be a float in (0, 1] or None, got {compression!r}')
    unknown = [m for m in compress_modes if m not in TNET_MODES]
    if unknown or not compress_modes:
        raise ValueError(f'compress_modes {list(compress_modes)}: unknown {unknown}; allowed: '
                         f'a non-empty subset of {list(TNET_MODES)}')
    idx = [TNET_MODES.index(m) for m in compress_modes]
    budget = compression * math.prod(shape)

    def ranks_at(frac: float) -> list:
        return [max(1, min(s, math.floor(frac * s + 0.5))) if i in idx else s
                for i, s in enumerate(shape)]

    if tucker_params(shape, ranks_at(0.0)) > budget:
        raise ValueError(f'compression={compression} is below the smallest T-Net of this shape '
                         f'({tucker_params(shape, ranks_at(0.0)) / math.prod(shape):.2e} with '
                         f'rank 1 on {list(compress_modes)}); compress more modes or raise it')
    lo, hi = 0.0, 1.0
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tucker_params(shape, ranks_at(mid)) <= budget else (lo, mid)
    ranks = ranks_at(lo)
    while fill:  # raise the most compressed mode (lowest rank / size) that still fits
        fits = [i for i in idx if ranks[i] < shape[i] and tucker_params(
            shape, ranks[:i] + [ranks[i] + 1] + ranks[i + 1:]) <= budget]
        fill = bool(fits)
        if fits:
            i = min(fits, key=lambda i: (ranks[i] / shape[i], -shape[i]))
            ranks[i] += 1
    return tuple(ranks)


class TuckerTensor8(nn.Module):
    """The T-Net weight tensor: dense, or Tucker (core + one factor per mode) with dropout.

    Args:
        shape: the 8 mode sizes.
        ranks: Tucker ranks (``None``: dense storage).
        std: standard deviation of the reconstructed entries at init.
        tensor_dropout: probability of dropping each rank index of a mode of the core during
            training (modes of rank > ``dropout_min_rank`` only); kept slices are rescaled.
        dropout_min_rank: modes with this rank or less are never dropped.
    """

    def __init__(self, shape: Sequence[int], ranks: Optional[Sequence[int]], std: float,
                 tensor_dropout: float = 0.0, dropout_min_rank: int = 3) -> None:
        super().__init__()
        if not 0 <= tensor_dropout < 1:
            raise ValueError(f'tensor_dropout must be in [0, 1), got {tensor_dropout!r}')
        self.shape, self.ranks = tuple(shape), None if ranks is None else tuple(ranks)
        self.tensor_dropout, self.dropout_min_rank = tensor_dropout, dropout_min_rank
        if ranks is None:
            self.full = nn.Parameter(torch.randn(*shape) * std)
            return
        # orthonormal factors keep the Frobenius norm of the core, so this core variance
        # gives reconstructed entries of variance std**2
        self.factors = nn.ParameterList()
        for s, r in zip(shape, ranks):
            q, _ = torch.linalg.qr(torch.randn(s, r))
            self.factors.append(nn.Parameter(q))
        core_std = std * math.sqrt(math.prod(shape) / math.prod(ranks))
        self.core = nn.Parameter(torch.randn(*ranks) * core_std)

    def _dropped_core(self) -> torch.Tensor:
        core = self.core
        p = self.tensor_dropout
        for mode, r in enumerate(self.ranks):
            if r <= self.dropout_min_rank:
                continue
            keep = (torch.rand(r, device=core.device) >= p).to(core.dtype)
            if keep.sum() == 0:
                keep[torch.randint(r, (1, ))] = 1.0
            view = [1] * core.dim()
            view[mode] = r
            core = core * (keep / (1 - p)).view(view)
        return core

    def cost(self, inputs: tuple, output: torch.Tensor):
        """Parameters of the tensor; FLOPs of the Tucker reconstruction (n-mode products)."""
        from plugins.analysis import LayerCost
        params = sum(p.numel() for p in self.parameters())
        if self.ranks is None:
            return LayerCost(real_params=params)
        flops = sum(math.prod(self.shape[:i + 1]) * math.prod(self.ranks[i:])
                    for i in range(len(self.shape)))
        return LayerCost(flops=flops, real_params=params)

    def forward(self) -> torch.Tensor:
        """Returns: the full tensor, shape ``shape``."""
        if self.ranks is None:
            return self.full
        core = self._dropped_core() if (self.training and self.tensor_dropout) else self.core
        return tucker_to_tensor(core, list(self.factors))


class TensorSliceConv2d(nn.Module):
    """A parameter-free 3x3 (``kernel_size``) conv whose weight is passed in (a T-Net slice).

    A module (not a bare ``F.conv2d``) so that the complexity walker sees every conv's FLOPs;
    its parameters are reported once by :class:`TuckerTensor8`.
    """

    def __init__(self, padding: int) -> None:
        super().__init__()
        self.padding = padding

    def forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Args: x (N, in, H, W), weight (out, in, kh, kw). Returns (N, out, H, W)."""
        return F.conv2d(x, weight, padding=self.padding)

    def cost(self, inputs: tuple, output: torch.Tensor):
        from plugins.analysis import LayerCost
        weight = inputs[1]
        return LayerCost(flops=output.numel() * weight[0].numel())


@MODELS.register_module()
class TNet(BaseBackbone):
    """T-Net backbone (MMPose): stacked hourglass parametrised by one 8th-order tensor.

    Args:
        num_stacks: hourglasses (mode ``stacks``).
        depth: levels per hourglass (mode ``depth``); input divisible by ``4 * 2**depth``.
        channels: features inside the hourglasses (modes ``in`` and ``out``).
        out_channels: heatmaps per stack (keypoints).
        convs_per_block: 3x3 convs per residual block (mode ``convs``).
        kernel_size: kernel of the tensor-parametrised convs (modes ``kh``, ``kw``).
        compression: fraction of the dense tensor's parameters kept by the Tucker form
            (float in (0, 1]); ``None`` stores the tensor densely (uncompressed baseline).
        ranks: explicit Tucker ranks (8 ints), overriding ``compression``.
        rank_scheme: how ``compression`` sets the ranks, a key of :data:`RANK_SCHEMES`:
            ``'all_modes'`` (default; every mode compressed, budget filled) or ``'in_out'``
            (only the channel modes, the scheme of earlier versions).
        compress_modes: explicit modes whose ranks ``compression`` reduces (overrides the
            scheme's modes; the scheme still decides whether the budget is filled).
        tensor_dropout: Tucker dropout probability on the core during training.
        stem_channels: channels of the 7x7 stem conv.
        in_channels: image channels.
        heatmap_init_std: std of the normal init of the per-stack heatmap convs (bias 0), as
            in :class:`plugins.pose.StackedHourglass` (the same method); ``None`` for
            PyTorch's default init.
        init_cfg: mmengine init config.

    Shapes: input (N, in_channels, H, W) -> tuple of ``num_stacks`` tensors
    (N, out_channels, H/4, W/4).
    """

    def __init__(self, num_stacks: int = 2, depth: int = 3, channels: int = 64,
                 out_channels: int = 16, convs_per_block: int = 2, kernel_size: int = 3,
                 compression: Optional[float] = 0.5, ranks: Optional[Sequence[int]] = None,
                 rank_scheme: str = 'all_modes', compress_modes: Optional[Sequence[str]] = None,
                 tensor_dropout: float = 0.0,
                 stem_channels: int = 32, in_channels: int = 3,
                 heatmap_init_std: Optional[float] = 0.001,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        for name, value in (('num_stacks', num_stacks), ('depth', depth),
                            ('channels', channels), ('out_channels', out_channels),
                            ('convs_per_block', convs_per_block)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'TNet: {name} must be an int >= 1, got {value!r}')
        if kernel_size % 2 != 1:
            raise ValueError(f'TNet: kernel_size must be odd, got {kernel_size}')
        self.num_stacks, self.depth, self.channels = num_stacks, depth, channels
        self.convs_per_block, self.kernel_size = convs_per_block, kernel_size
        self.tensor_shape = (num_stacks, depth, 3, convs_per_block, channels, channels,
                             kernel_size, kernel_size)
        if ranks is not None:
            ranks = tuple(ranks)
            if len(ranks) != 8 or any(not 1 <= r <= s for r, s in zip(ranks, self.tensor_shape)):
                sizes = dict(zip(TNET_MODES, self.tensor_shape))
                raise ValueError(f'TNet: ranks {ranks} out of range; allowed: 8 ints with '
                                 f'1 <= rank <= size for modes {sizes}')
        elif compression is not None:
            if rank_scheme not in RANK_SCHEMES:
                raise ValueError(f'TNet: unknown rank_scheme {rank_scheme!r}; allowed: '
                                 f'{list(RANK_SCHEMES)}')
            scheme = RANK_SCHEMES[rank_scheme]
            ranks = tnet_ranks(self.tensor_shape, compression,
                               compress_modes or scheme['compress_modes'], scheme['fill'])
        std = math.sqrt(1.0 / (channels * kernel_size**2))
        self.weight_tensor = TuckerTensor8(self.tensor_shape, ranks, std, tensor_dropout)
        n_convs = num_stacks * depth * 3 * convs_per_block
        self.norms = nn.ModuleList(nn.BatchNorm2d(channels) for _ in range(n_convs))
        self.conv = TensorSliceConv2d(kernel_size // 2)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 7, 2, 3, bias=False),
            nn.BatchNorm2d(stem_channels), nn.ReLU(inplace=True),
            nn.Conv2d(stem_channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        self.features = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False),
                          nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
            for _ in range(num_stacks))
        self.heatmaps = nn.ModuleList(nn.Conv2d(channels, out_channels, 1)
                                      for _ in range(num_stacks))
        self.reset_heatmap_layers(heatmap_init_std)
        self.merge_features = nn.ModuleList(nn.Conv2d(channels, channels, 1)
                                            for _ in range(num_stacks - 1))
        self.merge_heatmaps = nn.ModuleList(nn.Conv2d(out_channels, channels, 1)
                                            for _ in range(num_stacks - 1))

    #: heatmap convs from N(0, std) with zero bias: the predicted heatmaps start at ~0 (MMPose
    #: HeatmapHead's init), the stacked hourglass's own method (it reads ``self.heatmaps``)
    reset_heatmap_layers = StackedHourglass.reset_heatmap_layers

    @property
    def ranks(self) -> Optional[Tuple[int, ...]]:
        return self.weight_tensor.ranks

    @property
    def stride(self) -> int:
        return 4 * 2**self.depth

    def train(self, mode: bool = True) -> 'TNet':
        super().train(mode)
        return self

    def conv_weights(self) -> torch.Tensor:
        """All hourglass kernels, shape (stacks, depth, 3, convs, out, in, kh, kw)."""
        return self.weight_tensor().transpose(4, 5).contiguous()

    def tensor_params(self) -> int:
        """Parameters of the weight tensor (core + factors, or the dense tensor)."""
        return sum(p.numel() for p in self.weight_tensor.parameters())

    def _block(self, x: torch.Tensor, weights: Sequence[torch.Tensor], s: int, d: int,
               b: int) -> torch.Tensor:
        y = x
        for c in range(self.convs_per_block):
            idx = (((s * self.depth + d) * 3 + b) * self.convs_per_block) + c
            y = self.conv(F.relu(self.norms[idx](y)), weights[idx])
        return x + y

    def _level(self, x: torch.Tensor, weights: Sequence[torch.Tensor], s: int,
               d: int) -> torch.Tensor:
        skip = self._block(x, weights, s, d, 0)
        y = self._block(F.max_pool2d(x, 2), weights, s, d, 1)
        if d < self.depth - 1:
            y = self._level(y, weights, s, d + 1)
        y = self._block(y, weights, s, d, 2)
        return skip + F.interpolate(y, scale_factor=2, mode='nearest')

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        h, w = x.shape[-2:]
        if h % self.stride or w % self.stride:
            raise ValueError(f'TNet(depth={self.depth}) needs input height and width divisible '
                             f'by 4 * 2**depth = {self.stride}, got {h}x{w}')
        k = self.kernel_size
        # one slice per conv, in (stack, depth, block, conv) order; unbind's backward stacks
        # the slice gradients once instead of filling a full-size zero tensor per slice
        weights = self.conv_weights().reshape(-1, self.channels, self.channels, k, k).unbind(0)
        x = self.stem(x)
        outs = []
        for s in range(self.num_stacks):
            y = self.features[s](self._level(x, weights, s, 0))
            hm = self.heatmaps[s](y)
            outs.append(hm)
            if s < self.num_stacks - 1:
                x = x + self.merge_features[s](y) + self.merge_heatmaps[s](hm)
        return tuple(outs)
