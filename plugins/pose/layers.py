"""The pre-activation unit ``norm -> act -> conv [-> post_act]`` shared by the blocks.

This is the binary-friendly layer order of "Hierarchical binary CNNs for landmark
localization with limited resources": batch norm, then the (binary) activation, then the
(binary) convolution, so the convolution sees a normalised input before it is binarised.
For a binary conv the quantiser lives inside the conv (``conv_cfg=dict(type='BinaryConv2d')``),
so ``act_cfg`` is usually ``None`` there; ``post_act_cfg`` adds e.g. the PReLU after the conv of
"Improved training of binary networks for human pose estimation and image recognition".
"""
from __future__ import annotations

from typing import Optional, Union

from mmcv.cnn import build_activation_layer, build_conv_layer, build_norm_layer
from torch import Tensor, nn


class PreActConv(nn.Module):
    """``norm -> act -> conv -> post_act`` on ``(N, in_channels, H, W)``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: conv kernel size (padding keeps the spatial size for odd kernels).
        conv_cfg: mmcv conv config (``None`` = ``nn.Conv2d``).
        norm_cfg: mmcv norm config before the activation, ``None`` for no norm.
        act_cfg: activation before the conv, ``None`` for none.
        post_act_cfg: activation after the conv, ``None`` for none.
        bias: whether the conv has a bias.

    Returns (forward):
        ``(N, out_channels, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU'),
                 post_act_cfg: Optional[dict] = None, bias: bool = False) -> None:
        super().__init__()
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f'channels must be positive, got in={in_channels}, '
                             f'out={out_channels}')
        self.norm = build_norm_layer(norm_cfg, in_channels)[1] if norm_cfg else nn.Identity()
        self.act = _act(act_cfg)
        self.conv = build_conv_layer(conv_cfg, in_channels, out_channels, kernel_size,
                                     stride=1, padding=kernel_size // 2, bias=bias)
        self.post_act = _act(post_act_cfg, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.post_act(self.conv(self.act(self.norm(x))))


def _act(cfg: Optional[dict], channels: Optional[int] = None) -> nn.Module:
    if cfg is None:
        return nn.Identity()
    cfg = dict(cfg)
    if cfg['type'] == 'PReLU' and channels is not None:
        cfg.setdefault('num_parameters', channels)
    if cfg['type'] in ('ReLU', 'LeakyReLU'):
        cfg.setdefault('inplace', False)
    return build_activation_layer(cfg)


SKIP_MODES = ('auto', 'identity', 'conv', 'none')

#: ``skip_act_cfg`` of the blocks: the projection reuses the block's own pre-activation
BLOCK_ACT = 'block'


def skip_activation(act_cfg: Optional[dict],
                    skip_act_cfg: Union[str, dict, None] = BLOCK_ACT) -> Optional[dict]:
    """The activation before a block's 1x1 projection skip.

    Args:
        act_cfg: the block's activation before its convs (``None`` for binary convs).
        skip_act_cfg: ``'block'`` (default): ``act_cfg``, or ReLU when the block has none (a
            real projection in a binary block); a config or ``None`` sets it. A binary
            projection (``skip_conv_cfg=dict(type='BinaryConv2d', ...)``) needs ``None``: it
            binarises ``BN(x)`` itself, and the sign of a ReLU output is +1 everywhere.

    Returns:
        the activation config of :class:`Shortcut` (``None`` for none).
    """
    if isinstance(skip_act_cfg, str):
        if skip_act_cfg != BLOCK_ACT:
            raise ValueError(f'skip_act_cfg must be {BLOCK_ACT!r}, a config or None, got '
                             f'{skip_act_cfg!r}')
        return act_cfg or dict(type='ReLU')
    return skip_act_cfg


class Shortcut(nn.Module):
    """The skip path of a residual block.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        mode: ``'auto'`` (identity if the channels match, else a 1x1 projection),
            ``'identity'``, ``'conv'`` (always a ``norm -> act -> 1x1 conv`` projection) or
            ``'none'`` (no skip: the block is a plain feed-forward unit).
        gated: scale the identity path by a :class:`SoftGatedSkip` (per-channel gate);
            a projection or absent skip has nothing to gate and ignores it, so one block
            config serves blocks that change the width too.
        gate_init: initial gate value.
        conv_cfg: conv config of the projection (``None`` = real ``nn.Conv2d``).
        norm_cfg: norm config of the projection.
        act_cfg: activation of the projection.

    Returns (forward):
        ``(N, out_channels, H, W)`` or ``None`` when ``mode='none'``.
    """

    def __init__(self, in_channels: int, out_channels: int, mode: str = 'auto',
                 gated: bool = False, gate_init: float = 1.0,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='ReLU')) -> None:
        super().__init__()
        from .gated_skip import SoftGatedSkip
        if mode not in SKIP_MODES:
            raise ValueError(f'unknown skip mode {mode!r}; allowed: {list(SKIP_MODES)}')
        if mode == 'auto':
            mode = 'identity' if in_channels == out_channels else 'conv'
        if mode == 'identity' and in_channels != out_channels:
            raise ValueError(f"skip='identity' needs in_channels == out_channels, got "
                             f'{in_channels} != {out_channels}; use skip="conv" or "auto"')
        self.mode = mode
        if mode == 'identity':
            self.path = SoftGatedSkip(in_channels, gate_init) if gated else nn.Identity()
        elif mode == 'conv':
            self.path = PreActConv(in_channels, out_channels, 1, conv_cfg, norm_cfg, act_cfg)
        else:
            self.path = None

    def forward(self, x: Tensor) -> Optional[Tensor]:
        return None if self.path is None else self.path(x)
