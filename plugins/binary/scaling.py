"""Scaling factors of binary layers ("XNOR-Net++: Improved binary neural networks", Bulat &
Tzimiropoulos, BMVC 2019, and "XNOR-Net", Rastegari et al., ECCV 2016).

A scaling module returns the *output scale* ``s`` that multiplies the binary convolution
``conv(sign(x), sign(W))``; it broadcasts against the output ``(N, O, H_out, W_out)``:

=========================  ==========================================  ======================
``scale`` / ``scale_shape``  output scale ``s``                          learned parameters
=========================  ==========================================  ======================
``none``                   none (``s = 1``)                            0
``xnor``                   ``alpha_o = mean |W_o|`` (O, 1, 1)          0 (computed from W)
``learned`` ``channel``    ``alpha`` (O, 1, 1)                         O
``learned`` ``chw``        ``Gamma`` (O, H_out, W_out)                 O * H_out * W_out
``learned`` ``rank1``      ``alpha (x) beta (x) gamma`` (O, H_out, W_out)  O + H_out + W_out
``learned`` ``channel_spatial``  ``alpha (x) beta``, beta (H_out, W_out)  O + H_out * W_out
=========================  ==========================================  ======================

These are the four shapes of XNOR-Net++'s Gamma: one factor per output channel; a full
(O, H_out, W_out) tensor; a channel vector times a spatial map (``channel_spatial``); and the
rank-1 outer product of one vector per axis.

XNOR-Net's activation factor ``K`` (mean over channels of ``|x|``, averaged over each receptive
field) is input dependent; :func:`activation_factor` computes it (``act_scale=True`` in the
layer).

Shapes that depend on the output resolution (``chw``, ``rank1``) take ``out_size=(H, W)`` or
are resolved on the first forward; a later output of another size raises a ``ValueError``.
"""
from __future__ import annotations

from numbers import Number
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SCALES = ('none', 'xnor', 'learned')
SCALE_SHAPES = ('channel', 'chw', 'rank1', 'channel_spatial')
SCALE_INITS = ('ones', 'xnor')
#: ``BinaryConv2d`` keyword arguments of every scaling: none, XNOR's analytic factor, and each
#: learned XNOR-Net++ shape (the benchmarks' variant names)
SCALINGS = dict(none=dict(scale='none'), xnor=dict(scale='xnor'),
                **{shape: dict(scale='learned', scale_shape=shape) for shape in SCALE_SHAPES})


def xnor_weight_factor(weight: Tensor) -> Tensor:
    """XNOR-Net's weight factor: ``mean |W|`` over all but the output dimension.

    Args:
        weight: (O, ...) real weight.

    Returns:
        (O, ) tensor.
    """
    return weight.abs().flatten(1).mean(1)


def activation_factor(x: Tensor, kernel_size: Tuple[int, int], stride, padding,
                      dilation) -> Tensor:
    """XNOR-Net's activation factor ``K = (mean_c |x|) * k``, ``k`` the box filter.

    Args:
        x: (N, C, H, W) input of the binary conv (before quantisation).

    Returns:
        (N, 1, H_out, W_out).
    """
    a = x.abs().mean(1, keepdim=True)
    k = a.new_full((1, 1) + tuple(kernel_size), 1.0 / (kernel_size[0] * kernel_size[1]))
    return F.conv2d(a, k, stride=stride, padding=padding, dilation=dilation)


class NoScale(nn.Module):
    """No scaling: ``s = 1``."""

    def forward(self, weight: Tensor, out_size: Optional[Tuple[int, int]] = None) -> None:
        return None


class XNORScale(nn.Module):
    """Analytic XNOR-Net weight factor ``alpha_o = mean |W_o|`` (gradient flows into W).

    Args:
        spatial: number of spatial output dims (2 for conv, 0 for linear).
    """

    def __init__(self, spatial: int = 2) -> None:
        super().__init__()
        self.spatial = spatial

    def forward(self, weight: Tensor, out_size: Optional[Tuple[int, int]] = None) -> Tensor:
        """Returns (O, 1, 1) for conv, (O, ) for linear."""
        return xnor_weight_factor(weight).view((-1, ) + (1, ) * self.spatial)


class FixedScale(nn.Module):
    """A frozen output scale (what :meth:`BinaryConv2d.materialize` keeps for inference).

    Args:
        scale: (O, 1, 1), (O, H, W) or (O, ) tensor.
    """

    def __init__(self, scale: Tensor) -> None:
        super().__init__()
        self.register_buffer('scale', scale.detach().clone())

    def forward(self, weight: Tensor, out_size: Optional[Tuple[int, int]] = None) -> Tensor:
        if self.scale.dim() == 3 and self.scale.shape[1:] != (1, 1) and out_size is not None \
                and tuple(out_size) != tuple(self.scale.shape[1:]):
            raise ValueError(f'this layer has a fixed output scale of spatial size '
                             f'{tuple(self.scale.shape[1:])}, but the output is {tuple(out_size)}')
        return self.scale

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'scale'
        if key in state_dict and state_dict[key].shape != self.scale.shape:
            self.scale = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class LearnedScale(nn.Module):
    """Learned fused scaling factors of XNOR-Net++, trained by back-propagation.

    Args:
        out_channels: O.
        shape: ``'channel'`` (O), ``'chw'`` (O x H_out x W_out), ``'rank1'``
            (alpha (O) x beta (H_out) x gamma (W_out)) or ``'channel_spatial'``
            (alpha (O) x beta (H_out, W_out)).
        out_size: (H_out, W_out) for ``chw``/``rank1``; ``None`` resolves it on first forward.
        init: ``'ones'``, ``'xnor'`` (alpha = mean |W| per output channel, the other factors 1)
            or a number (every entry of alpha = that number, other factors 1).
        spatial: 2 for conv, 0 for linear (linear supports ``channel`` only).
    """

    def __init__(self,
                 out_channels: int,
                 shape: str = 'channel',
                 out_size: Optional[Sequence[int]] = None,
                 init: Union[str, float] = 'ones',
                 spatial: int = 2) -> None:
        super().__init__()
        if shape not in SCALE_SHAPES:
            raise ValueError(f'unknown scale_shape {shape!r}; allowed: {list(SCALE_SHAPES)}')
        if spatial == 0 and shape != 'channel':
            raise ValueError(f'scale_shape {shape!r} needs a spatial output; a linear layer '
                             f"allows only 'channel'")
        if not (isinstance(init, Number) or init in SCALE_INITS):
            raise ValueError(f'unknown scale_init {init!r}; allowed: {list(SCALE_INITS)} or '
                             f'a number')
        if out_size is not None:
            out_size = tuple(int(s) for s in out_size)
            if len(out_size) != 2 or min(out_size) < 1:
                raise ValueError(f'out_size must be (H_out, W_out) > 0, got {out_size!r}')
        self.out_channels = out_channels
        self.shape = shape
        self.init = init
        self.spatial = spatial
        self.out_size: Optional[Tuple[int, int]] = None
        o = out_channels
        if shape == 'channel':
            self.alpha = nn.Parameter(torch.ones(o))
        elif shape == 'chw':
            self.gamma = nn.Parameter(torch.empty(0))
        elif shape == 'channel_spatial':
            self.alpha = nn.Parameter(torch.ones(o))
            self.beta = nn.Parameter(torch.empty(0))
        else:
            self.alpha = nn.Parameter(torch.ones(o))
            self.beta = nn.Parameter(torch.empty(0))
            self.gamma = nn.Parameter(torch.empty(0))
        if out_size is not None and shape != 'channel':
            self._resolve(out_size)
        self.pending_xnor_init = init == 'xnor'

    @property
    def resolved(self) -> bool:
        return self.shape == 'channel' or self.out_size is not None

    def _resolve(self, out_size: Tuple[int, int]) -> None:
        """Allocate the spatial factors in place (the Parameter objects are kept, so an
        optimizer built before the first forward still holds them)."""
        h, w = out_size
        ref = self.alpha if self.shape == 'channel_spatial' else self.gamma
        if self.shape == 'chw':
            self.gamma.data = torch.ones(self.out_channels, h, w, dtype=ref.dtype,
                                         device=ref.device)
        elif self.shape == 'channel_spatial':
            self.beta.data = torch.ones(h, w, dtype=ref.dtype, device=ref.device)
        else:
            self.beta.data = torch.ones(h, dtype=ref.dtype, device=ref.device)
            self.gamma.data = torch.ones(w, dtype=ref.dtype, device=ref.device)
        self.out_size = (h, w)
        if isinstance(self.init, Number):
            self._alpha_fill(torch.full((self.out_channels, ), float(self.init)))

    def _alpha_fill(self, values: Tensor) -> None:
        with torch.no_grad():
            if self.shape == 'chw':
                if self.out_size is not None:
                    self.gamma.copy_(values.view(-1, 1, 1).expand_as(self.gamma))
            else:
                self.alpha.copy_(values)

    def reset(self, weight: Optional[Tensor] = None) -> None:
        """Initialise from ``init`` (``'xnor'`` reads ``mean |W|`` of the given weight)."""
        if isinstance(self.init, Number):
            self._alpha_fill(torch.full((self.out_channels, ), float(self.init)))
        elif self.init == 'xnor' and weight is not None:
            self._alpha_fill(xnor_weight_factor(weight.detach()))
            self.pending_xnor_init = self.shape == 'chw' and self.out_size is None

    def _check_size(self, weight: Tensor, out_size: Optional[Tuple[int, int]]) -> None:
        """Resolve the spatial factors on the first call, then check ``out_size`` against them."""
        if out_size is None:
            if self.out_size is None:
                raise ValueError(f"scale_shape {self.shape!r} needs the output size; pass "
                                 f"out_size=(H_out, W_out) or run a forward first")
            out_size = self.out_size
        out_size = tuple(out_size)
        if self.out_size is None:
            self._resolve(out_size)
            if self.pending_xnor_init:
                self.reset(weight)
        elif out_size != self.out_size:
            raise ValueError(
                f'scale_shape {self.shape!r} was resolved for output size {self.out_size} '
                f'(H_out, W_out) but this input gives {out_size}; the learned {self.shape} '
                f"factors cannot follow a change of input size. Use scale_shape='channel' or "
                f'feed inputs of the size the layer was built for.')

    def forward(self, weight: Tensor, out_size: Optional[Tuple[int, int]] = None) -> Tensor:
        """Returns the output scale: (O, 1, 1), (O, H_out, W_out), or (O, ) for linear.

        Args:
            weight: the real weight (used once, by ``init='xnor'`` of lazily resolved shapes).
            out_size: (H_out, W_out) of the current output.
        """
        if self.shape == 'channel':
            return self.alpha.view((-1, ) + (1, ) * self.spatial)
        self._check_size(weight, out_size)
        if self.shape == 'chw':
            return self.gamma
        if self.shape == 'channel_spatial':
            return self.alpha.view(-1, 1, 1) * self.beta.unsqueeze(0)
        return self.alpha.view(-1, 1, 1) * self.beta.view(1, -1, 1) * self.gamma.view(1, 1, -1)

    def factors(self, weight: Tensor, out_size: Optional[Tuple[int, int]] = None
                ) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """The output scale as ``(channel, spatial)`` with ``s = channel.view(-1, 1, 1) *
        spatial`` (``None`` for a missing factor), without building the (O, H_out, W_out)
        product: ``channel`` (O, ) is ``alpha``; ``spatial`` is ``gamma`` (O, H_out, W_out)
        for ``chw``, ``beta`` (H_out, W_out) for ``channel_spatial``, ``beta (x) gamma``
        (H_out, W_out) for ``rank1``. Same arguments and checks as :meth:`forward`."""
        if self.shape == 'channel':
            return self.alpha, None
        self._check_size(weight, out_size)
        if self.shape == 'chw':
            return None, self.gamma
        if self.shape == 'channel_spatial':
            return self.alpha, self.beta
        return self.alpha, self.beta.view(-1, 1) * self.gamma.view(1, -1)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # a checkpoint of a resolved layer resolves an unresolved one (and fixes its size)
        if self.shape != 'channel' and self.out_size is None:
            if self.shape == 'chw' and prefix + 'gamma' in state_dict:
                self._resolve(tuple(state_dict[prefix + 'gamma'].shape[1:]))
            elif self.shape == 'channel_spatial' and prefix + 'beta' in state_dict:
                self._resolve(tuple(state_dict[prefix + 'beta'].shape))
            elif prefix + 'beta' in state_dict and prefix + 'gamma' in state_dict:
                self._resolve((state_dict[prefix + 'beta'].numel(),
                               state_dict[prefix + 'gamma'].numel()))
            self.pending_xnor_init = False
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def num_params(self) -> int:
        """Learned parameters once resolved (O, O*H*W, O+H+W or O+H*W)."""
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return f'{self.out_channels}, shape={self.shape!r}, out_size={self.out_size}'


def build_scaling(scale: str,
                  out_channels: int,
                  scale_shape: str = 'channel',
                  out_size: Optional[Sequence[int]] = None,
                  scale_init: Union[str, float] = 'ones',
                  spatial: int = 2) -> nn.Module:
    """Build the scaling module named by ``scale`` (``'none'``, ``'xnor'``, ``'learned'``)."""
    if scale == 'none' or scale is None:
        return NoScale()
    if scale == 'xnor':
        return XNORScale(spatial)
    if scale == 'learned':
        return LearnedScale(out_channels, scale_shape, out_size, scale_init, spatial)
    raise ValueError(f'unknown scale {scale!r}; allowed: {list(SCALES)}')
