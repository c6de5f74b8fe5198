"""Shared machinery of the factorised N-D convolutions (CP and Tucker).

"Factorized Higher-Order CNNs with an Application to Spatio-Temporal Emotion Estimation"
(Kossaifi et al., CVPR 2020): the kernel of an N-D convolution, a tensor of shape
(out, in, k_1, ..., k_d), is held in low-rank form and the convolution is computed either as
the sequence of small convolutions that the factorisation defines (``implementation=
'factorized'``) or by reconstructing the full kernel and running one dense convolution
(``'reconstructed'``).

The layers take the ``nn.ConvNd`` signature, so they drop into ``conv_cfg`` of any mmcv-built
model. ``dim`` (1, 2 or 3) is fixed by the ``*1d/2d/3d`` classes; the generic class infers it
from a tuple ``kernel_size`` and defaults to 2-D for an int.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS

IMPLEMENTATIONS = ('factorized', 'reconstructed')
CONV_FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
DENSE_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}

IntOrTuple = Union[int, Sequence[int]]


def mode_dot(tensor: torch.Tensor, matrix: torch.Tensor, mode: int) -> torch.Tensor:
    """n-mode product: contracts ``tensor``'s mode ``mode`` (size J) with ``matrix`` (I, J)."""
    return torch.movedim(torch.tensordot(tensor, matrix, dims=([mode], [1])), -1, mode)


def tucker_to_tensor(core: torch.Tensor, factors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Full tensor of a Tucker form: ``core x_0 factors[0] x_1 factors[1] ...``."""
    for mode, factor in enumerate(factors):
        core = mode_dot(core, factor, mode)
    return core


def cp_to_tensor(factors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Full tensor of a CP form ``sum_r factors[0][:, r] o factors[1][:, r] o ...``.

    Computed as ``factors[0] @ khatri_rao(factors[1:])^T``, so the memory peak is the output,
    not output x rank.
    """
    rest = factors[1]
    for factor in factors[2:]:
        rest = (rest[:, None, :] * factor[None, :, :]).reshape(-1, rest.shape[1])
    shape = [f.shape[0] for f in factors]
    return (factors[0] @ rest.t()).reshape(shape)


def ntuple(value: IntOrTuple, dim: int, name: str, layer: str) -> Tuple[int, ...]:
    """``value`` as a ``dim``-tuple; a sequence must already have ``dim`` entries."""
    if isinstance(value, int):
        return (value, ) * dim
    value = tuple(value)
    if len(value) != dim:
        raise ValueError(f'{layer}: {name}={value} has {len(value)} entries but the layer is a '
                         f'{dim}-D convolution; allowed: an int or a tuple of {dim} ints')
    return value


def check_implementation(implementation: str) -> str:
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f'unknown implementation {implementation!r}; allowed: '
                         f'{list(IMPLEMENTATIONS)}')
    return implementation


class FactorizedConvNd(nn.Module):
    """Base class: argument checks, dispatch between the two implementations, ``from_conv``.

    Subclasses define ``_build(rank)``, ``reconstruct()``, ``_forward_factorized(x)`` and
    ``_factorized_flops(inputs, output)``, and set ``decompose(weight)``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode: as ``nn.ConvNd``; only ``groups=1`` and ``padding_mode='zeros'``.
        rank: int rank or float compression ratio in (0, 1] (see :mod:`plugins.tensor.ranks`).
        implementation: ``'factorized'`` (sequence of small convolutions) or
            ``'reconstructed'`` (full kernel, one dense convolution).
        dim: 1, 2 or 3; ``None`` infers it from a tuple ``kernel_size`` (int: 2).
    """

    _fixed_dim: Optional[int] = None

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: IntOrTuple,
                 stride: IntOrTuple = 1,
                 padding: Union[IntOrTuple, str] = 0,
                 dilation: IntOrTuple = 1,
                 groups: int = 1,
                 bias: bool = True,
                 padding_mode: str = 'zeros',
                 rank: Union[int, float, Sequence[int]] = 0.5,
                 implementation: str = 'factorized',
                 dim: Optional[int] = None) -> None:
        super().__init__()
        name = type(self).__name__
        if self._fixed_dim is not None:
            if dim is not None and dim != self._fixed_dim:
                raise ValueError(f'{name} is {self._fixed_dim}-D, got dim={dim}')
            dim = self._fixed_dim
        elif dim is None:
            dim = 2 if isinstance(kernel_size, int) else len(tuple(kernel_size))
        if dim not in CONV_FN:
            raise ValueError(f'{name}: {dim}-D convolution not supported; allowed dims: '
                             f'{sorted(CONV_FN)} (kernel_size={kernel_size})')
        if groups != 1:
            raise ValueError(f'{name}: groups={groups} not supported; allowed: 1 (factorise '
                             f'grouped/depthwise convolutions as dense ones or keep them)')
        if padding_mode != 'zeros':
            raise ValueError(f'{name}: padding_mode={padding_mode!r} not supported; allowed: '
                             f"['zeros']")
        for label, value in (('in_channels', in_channels), ('out_channels', out_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'{name}: {label} must be a positive int, got {value!r}')
        self.dim = dim
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = ntuple(kernel_size, dim, 'kernel_size', name)
        self.stride = ntuple(stride, dim, 'stride', name)
        self.padding = padding if isinstance(padding, str) else ntuple(padding, dim, 'padding',
                                                                        name)
        self.dilation = ntuple(dilation, dim, 'dilation', name)
        self.groups = 1
        self.padding_mode = padding_mode
        # attributes mmcv's ConvModule copies from its conv
        self.transposed = False
        self.output_padding = (0, ) * dim
        self.implementation = check_implementation(implementation)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self._build(rank)

    # -- interface for the subclasses ----------------------------------------------------
    @property
    def weight_shape(self) -> Tuple[int, ...]:
        """Shape of the full kernel: (out, in, k_1, ..., k_d)."""
        return (self.out_channels, self.in_channels) + self.kernel_size

    def _build(self, rank) -> None:
        raise NotImplementedError

    def reconstruct(self) -> torch.Tensor:
        """The full kernel, shape (out, in, k_1, ..., k_d)."""
        raise NotImplementedError

    def _forward_factorized(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _factorized_flops(self, x: torch.Tensor, out: torch.Tensor) -> int:
        raise NotImplementedError

    def _reconstruction_flops(self) -> int:
        raise NotImplementedError

    def load_decomposition(self, weight: torch.Tensor) -> None:
        """Set the factors to a decomposition of the dense ``weight``."""
        raise NotImplementedError

    # -- shared behaviour -------------------------------------------------------------------
    @property
    def weight(self) -> torch.Tensor:
        """The reconstructed kernel (read-only view for code that inspects ``conv.weight``)."""
        return self.reconstruct()

    def init_weights(self) -> None:
        """Keep the current factors (so mmcv's ``ConvModule`` does not re-initialise them)."""

    def _conv_kwargs(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != self.dim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} ({self.dim}-D, in_channels={self.in_channels}) expects '
                f'input of shape (N, {self.in_channels}, {", ".join("*" * self.dim)}), got '
                f'{tuple(x.shape)}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (N, in, *spatial). Returns: (N, out, *spatial_out)."""
        self._check_input(x)
        if self.implementation == 'reconstructed':
            return CONV_FN[self.dim](x, self.reconstruct(), self.bias, **self._conv_kwargs())
        return self._forward_factorized(x)

    def cost(self, inputs: tuple, output: torch.Tensor):
        """Cost for the complexity walker (see CONTRIBUTING.md).

        FLOPs are the multiply-accumulates of the computation actually run for this input
        (batch included): the chain of small convolutions, or the kernel reconstruction plus
        one dense convolution. Parameters are the stored ones (factors, core, bias).
        """
        from plugins.analysis import LayerCost
        x = inputs[0]
        if self.implementation == 'reconstructed':
            dense = output.numel() * self.in_channels * math.prod(self.kernel_size)
            flops = self._reconstruction_flops() + dense
        else:
            flops = self._factorized_flops(x, output)
        params = sum(p.numel() for p in self.parameters())
        return LayerCost(flops=int(flops), real_params=int(params))

    def to_dense(self) -> nn.Module:
        """A plain ``nn.ConvNd`` holding the reconstructed kernel (for export)."""
        conv = DENSE_CONV[self.dim](self.in_channels, self.out_channels, self.kernel_size,
                                    stride=self.stride, padding=self.padding,
                                    dilation=self.dilation, bias=self.bias is not None)
        with torch.no_grad():
            conv.weight.copy_(self.reconstruct())
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv

    @classmethod
    def from_conv(cls, conv: nn.Module, rank: Union[int, float, Sequence[int]] = 0.5,
                  implementation: str = 'factorized', decompose: bool = True,
                  **kwargs) -> 'FactorizedConvNd':
        """Build the factorised layer from a trained ``nn.Conv{1,2,3}d`` (decompose its kernel).

        Args:
            conv: the dense convolution.
            rank: int rank or float compression ratio.
            implementation: ``'factorized'`` or ``'reconstructed'``.
            decompose: initialise the factors from the kernel (else random init).
            **kwargs: more options of the layer class.

        Raises:
            ValueError: ``conv`` is not a dense ``nn.ConvNd`` of the layer's dimension, or is
                grouped.
        """
        if not isinstance(conv, tuple(DENSE_CONV.values())):
            raise ValueError(f'{cls.__name__}.from_conv expects an nn.Conv1d/2d/3d, got '
                             f'{type(conv).__name__}')
        dim = conv.weight.dim() - 2
        if cls._fixed_dim is not None and dim != cls._fixed_dim:
            raise ValueError(f'{cls.__name__}.from_conv: got a {dim}-D convolution (kernel '
                             f'{tuple(conv.kernel_size)}); allowed: a {cls._fixed_dim}-D one')
        extra = {} if cls._fixed_dim is not None else dict(dim=dim)
        layer = cls(conv.in_channels, conv.out_channels, tuple(conv.kernel_size),
                    stride=tuple(conv.stride), padding=conv.padding,
                    dilation=tuple(conv.dilation), groups=conv.groups,
                    bias=conv.bias is not None, padding_mode=conv.padding_mode, rank=rank,
                    implementation=implementation, **extra, **kwargs)
        layer.to(device=conv.weight.device, dtype=conv.weight.dtype)
        if decompose:
            layer.load_decomposition(conv.weight.detach())
        if conv.bias is not None:
            with torch.no_grad():
                layer.bias.copy_(conv.bias)
        return layer

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, '
                f'stride={self.stride}, padding={self.padding}, dilation={self.dilation}, '
                f'rank={self.rank}, implementation={self.implementation!r}, '
                f'bias={self.bias is not None}')


def gemm_channel_mix(x: torch.Tensor, matrix: torch.Tensor, channels_last: bool,
                     bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """1x1 convolution as one batched GEMM, choosing the output memory layout.

    Args:
        x: (N, C, *spatial) in any memory layout.
        matrix: (C, C') mixing matrix.
        channels_last: return a tensor whose channel stride is 1 (what oneDNN's depthwise
            kernels want) instead of a contiguous (N, C', *spatial) one.
        bias: optional (C',) added inside the GEMM (no extra pass over the output).

    Returns:
        (N, C', *spatial).
    """
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    c_out = matrix.shape[1]
    # Inference: torch.bmm reads the transposed (strided) batches as they are, where
    # torch.matmul would first copy a non-foldable view. Training: bmm's backward through the
    # expanded matrix is several times slower, so torch.matmul (which folds the batch) is used.
    use_bmm = not (torch.is_grad_enabled() and (x.requires_grad or matrix.requires_grad))
    if channels_last:
        flat = x.movedim(1, -1).reshape(n, -1, c)  # (N, P, C): a view for NCHW and NHWC
        if use_bmm:
            weight = matrix.expand(n, *matrix.shape)
            out = (torch.bmm(flat, weight) if bias is None else torch.baddbmm(
                bias.view(1, 1, -1), flat, weight))  # (N, P, C')
        else:
            out = torch.matmul(flat, matrix)
            out = out if bias is None else out + bias
        return out.view(n, *spatial, c_out).movedim(-1, 1)
    flat = x.reshape(n, c, -1)  # (N, C, P)
    if use_bmm:
        weight = matrix.t().expand(n, c_out, c)
        out = (torch.bmm(weight, flat) if bias is None else torch.baddbmm(
            bias.view(1, -1, 1), weight, flat))  # (N, C', P)
    else:
        out = torch.matmul(matrix.t(), flat)
        out = out if bias is None else out + bias.view(1, -1, 1)
    return out.view(n, c_out, *spatial)


def register_fixed_dims(base: type) -> Tuple[type, ...]:
    """Create and register the 1-D, 2-D and 3-D classes of a factorised convolution.

    Args:
        base: a :class:`FactorizedConvNd` subclass, e.g. ``CPConv``.

    Returns:
        ``(<base>1d, <base>2d, <base>3d)``, each ``base`` with ``dim`` fixed, registered in
        ``MODELS`` under its name (usable as ``conv_cfg=dict(type='CPConv2d', rank=0.1)``).
    """
    variants = []
    for dim in sorted(CONV_FN):
        name = f'{base.__name__}{dim}d'
        cls = type(name, (base, ), dict(_fixed_dim=dim, __module__=base.__module__,
                                        __qualname__=name,
                                        __doc__=f'{dim}-D :class:`{base.__name__}`.'))
        variants.append(MODELS.register_module(module=cls))
    return tuple(variants)
