"""2-D -> 3-D transduction of CP/Tucker convolutions and of whole networks.

"Factorized Higher-Order CNNs with an Application to Spatio-Temporal Emotion Estimation"
(Kossaifi et al., CVPR 2020), "Transduction": a CP convolution trained on images
``sum_r U_out o U_in o U_h o U_w`` becomes a spatio-temporal one by adding a temporal factor
``U_t`` (k_t, R): ``sum_r U_out o U_in o U_t o U_h o U_w``. The spatial factors keep what was
learnt on still images; the temporal factors are trained on video first with the spatial ones
fixed (:class:`~plugins.tensor.temporal_freeze.FreezeSpatialFactorsHook`), then everything is
fine-tuned.

:func:`transduce` does this for a whole 2-D network: CP and Tucker convs gain a temporal mode,
dense convs are inflated (the 2-D kernel at the centre tap of a temporal kernel), 2-D norms and
pools become their 3-D counterparts (pools with temporal size 1). With the default ``'delta'``
temporal init the 3-D network applied to a clip equals the 2-D network applied frame by frame
(so, on a static clip, its output at start is the 2-D network's output at every frame).
"""
from __future__ import annotations

import copy
from typing import Callable, Dict, Optional, Union

import torch
import torch.nn as nn

from .cp_conv import CPConv, CPConv3d
from .tucker_conv import TuckerConv, TuckerConv3d

TEMPORAL_INITS = ('delta', 'average', 'ones')

#: Attribute set on every transduced module: names (relative to it) of its temporal-only
#: parameters, the ones :class:`FreezeSpatialFactorsHook` leaves trainable.
TEMPORAL_ATTR = 'temporal_param_names'


def temporal_factor(kernel_t: int, rank: int, temporal: Union[str, torch.Tensor]) -> torch.Tensor:
    """The initial temporal factor, shape (kernel_t, rank).

    Args:
        kernel_t: temporal kernel size.
        rank: number of columns.
        temporal: ``'delta'`` (centre tap 1), ``'average'`` (1 / kernel_t), ``'ones'``, or a
            tensor of shape (kernel_t,) (shared by all columns) or (kernel_t, rank).
    """
    if isinstance(temporal, str):
        if temporal not in TEMPORAL_INITS:
            raise ValueError(f'unknown temporal init {temporal!r}; allowed: '
                             f'{list(TEMPORAL_INITS)} or a tensor of shape ({kernel_t},) or '
                             f'({kernel_t}, {rank})')
        if temporal == 'delta':
            factor = torch.zeros(kernel_t)
            factor[kernel_t // 2] = 1.0
        elif temporal == 'average':
            factor = torch.full((kernel_t, ), 1.0 / kernel_t)
        else:
            factor = torch.ones(kernel_t)
    else:
        factor = torch.as_tensor(temporal, dtype=torch.float32)
    if factor.shape == (kernel_t, ):
        factor = factor[:, None].expand(kernel_t, rank)
    if factor.shape != (kernel_t, rank):
        raise ValueError(f'temporal factor of shape {tuple(factor.shape)}; allowed: '
                         f'({kernel_t},) or ({kernel_t}, {rank})')
    return factor


def _geometry_3d(conv: nn.Module, kernel_t: int, stride_t: int, padding_t: Optional[int],
                 dilation_t: int) -> dict:
    if isinstance(conv.padding, str):
        raise ValueError(f'transduction needs numeric padding, got padding={conv.padding!r}')
    if padding_t is None:
        padding_t = dilation_t * (kernel_t - 1) // 2
    return dict(kernel_size=(kernel_t, *conv.kernel_size), stride=(stride_t, *conv.stride),
                padding=(padding_t, *conv.padding), dilation=(dilation_t, *conv.dilation),
                bias=conv.bias is not None)


def transduce_cp_conv(conv: CPConv,
                      kernel_t: int = 3,
                      temporal: Union[str, torch.Tensor] = 'delta',
                      stride_t: int = 1,
                      padding_t: int = None,
                      dilation_t: int = 1) -> CPConv3d:
    """Grow a 2-D :class:`CPConv` into a 3-D one over (time, height, width).

    Args:
        conv: a trained 2-D CP convolution.
        kernel_t: temporal kernel size.
        temporal: initial temporal factor (see :func:`temporal_factor`).
        stride_t, padding_t, dilation_t: temporal stride/padding/dilation (padding defaults to
            ``dilation_t * (kernel_t - 1) // 2``, "same" for odd kernels).

    Returns:
        a :class:`CPConv3d` with ``kernel_size=(kernel_t, kh, kw)`` whose input is
        (N, C, T, H, W). On a video of identical frames, away from the temporal border, its
        output equals the 2-D output on one frame times the sum of the temporal factor (the
        bias added once). Its temporal factor is ``factors_kernel.0``.

    Raises:
        ValueError: ``conv`` is not a 2-D CP conv, ``padding`` is a string, or the temporal
            init is unknown / of the wrong shape.
    """
    if not isinstance(conv, CPConv) or conv.dim != 2:
        raise ValueError(f'transduction needs a 2-D CPConv, got {type(conv).__name__}'
                         f'{"" if not isinstance(conv, CPConv) else f" of dim {conv.dim}"}')
    geometry = _geometry_3d(conv, kernel_t, stride_t, padding_t, dilation_t)
    factor = temporal_factor(kernel_t, conv.rank, temporal)
    conv3d = CPConv3d(conv.in_channels, conv.out_channels, rank=conv.rank,
                      implementation=conv.implementation, **geometry)
    conv3d.to(conv.factor_in.device)
    with torch.no_grad():
        conv3d.factor_out.copy_(conv.factor_out)
        conv3d.factor_in.copy_(conv.factor_in)
        conv3d.factors_kernel[0].copy_(factor)
        for dst, src in zip(conv3d.factors_kernel[1:], conv.factors_kernel):
            dst.copy_(src)
        if conv.bias is not None:
            conv3d.bias.copy_(conv.bias)
    setattr(conv3d, TEMPORAL_ATTR, ('factors_kernel.0', ))
    return conv3d


def transduce_tucker_conv(conv: TuckerConv,
                          kernel_t: int = 3,
                          temporal: Union[str, torch.Tensor] = 'delta',
                          temporal_rank: int = 1,
                          stride_t: int = 1,
                          padding_t: int = None,
                          dilation_t: int = 1) -> TuckerConv3d:
    """Grow a 2-D :class:`TuckerConv` into a 3-D one: a temporal mode of rank ``temporal_rank``.

    ``W = G x U_out x U_in x U_h x U_w`` becomes ``G' x U_out x U_in x U_t x U_h x U_w`` where
    ``G'[:, :, 0] = G`` and the other temporal slices of the core are zero; the first column of
    ``U_t`` is the temporal init, the others are orthogonal to it (so the zero core slices
    receive gradients once the core is trained). At start the 3-D kernel is ``G``'s kernel
    times the temporal init: with ``'delta'`` the conv is the 2-D one applied frame by frame.

    Args:
        conv: a trained 2-D Tucker convolution.
        kernel_t: temporal kernel size.
        temporal: initial temporal profile, a string of :data:`TEMPORAL_INITS` or a tensor of
            shape (kernel_t,).
        temporal_rank: Tucker rank of the temporal mode (1 <= rank <= kernel_t).
        stride_t, padding_t, dilation_t: as :func:`transduce_cp_conv`.

    Returns:
        a :class:`TuckerConv3d` (input (N, C, T, H, W)); its temporal factor is ``factors.2``.
    """
    if not isinstance(conv, TuckerConv) or conv.dim != 2:
        raise ValueError(f'transduction needs a 2-D TuckerConv, got {type(conv).__name__}'
                         f'{"" if not isinstance(conv, TuckerConv) else f" of dim {conv.dim}"}')
    if not 1 <= temporal_rank <= kernel_t:
        raise ValueError(f'temporal_rank must be in [1, kernel_t={kernel_t}], got '
                         f'{temporal_rank!r}')
    geometry = _geometry_3d(conv, kernel_t, stride_t, padding_t, dilation_t)
    profile = temporal_factor(kernel_t, 1, temporal)[:, 0]
    r_out, r_in, r_h, r_w = conv.rank
    conv3d = TuckerConv3d(conv.in_channels, conv.out_channels,
                          rank=(r_out, r_in, temporal_rank, r_h, r_w),
                          implementation=conv.implementation, **geometry)
    conv3d.to(conv.core.device)
    # U_t: the profile, then an orthonormal complement scaled like it
    basis = torch.cat([profile[:, None], torch.randn(kernel_t, temporal_rank - 1)], 1)
    q, _ = torch.linalg.qr(basis)
    q = q * profile.norm()
    q[:, 0] = profile
    with torch.no_grad():
        conv3d.core.zero_()
        conv3d.core[:, :, 0].copy_(conv.core)
        conv3d.factors[0].copy_(conv.factors[0])
        conv3d.factors[1].copy_(conv.factors[1])
        conv3d.factors[2].copy_(q)
        conv3d.factors[3].copy_(conv.factors[2])
        conv3d.factors[4].copy_(conv.factors[3])
        if conv.bias is not None:
            conv3d.bias.copy_(conv.bias)
    setattr(conv3d, TEMPORAL_ATTR, ('factors.2', ))
    return conv3d


def inflate_conv(conv: nn.Conv2d, kernel_t: int = 3,
                 temporal: Union[str, torch.Tensor] = 'delta', stride_t: int = 1,
                 padding_t: int = None, dilation_t: int = 1) -> nn.Conv3d:
    """A dense ``nn.Conv2d`` as an ``nn.Conv3d``: kernel ``profile[t] * W`` (I3D-style).

    The whole kernel is spatio-temporal, so it has no temporal-only parameter.
    """
    if type(conv) is not nn.Conv2d:
        raise ValueError(f'inflate_conv needs an nn.Conv2d, got {type(conv).__name__}')
    if conv.padding_mode != 'zeros':
        raise ValueError(f'inflate_conv: padding_mode={conv.padding_mode!r}; allowed: '
                         f"['zeros']")
    geometry = _geometry_3d(conv, kernel_t, stride_t, padding_t, dilation_t)
    profile = temporal_factor(kernel_t, 1, temporal)[:, 0]
    conv3d = nn.Conv3d(conv.in_channels, conv.out_channels, groups=conv.groups, **geometry)
    conv3d.to(device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        conv3d.weight.copy_(conv.weight[:, :, None] * profile.view(1, 1, -1, 1, 1))
        if conv.bias is not None:
            conv3d.bias.copy_(conv.bias)
    setattr(conv3d, TEMPORAL_ATTR, ())
    return conv3d


def _norm3d(norm: nn.BatchNorm2d, **_) -> nn.BatchNorm3d:
    new = nn.BatchNorm3d(norm.num_features, eps=norm.eps, momentum=norm.momentum,
                         affine=norm.affine, track_running_stats=norm.track_running_stats)
    new.load_state_dict(norm.state_dict())
    new.train(norm.training)
    return new.to(next(iter(norm.state_dict().values())).device)


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _maxpool3d(pool: nn.MaxPool2d, **_) -> nn.MaxPool3d:
    return nn.MaxPool3d((1, *_pair(pool.kernel_size)), (1, *_pair(pool.stride)),
                        (0, *_pair(pool.padding)), (1, *_pair(pool.dilation)),
                        ceil_mode=pool.ceil_mode)


def _avgpool3d(pool: nn.AvgPool2d, **_) -> nn.AvgPool3d:
    return nn.AvgPool3d((1, *_pair(pool.kernel_size)), (1, *_pair(pool.stride)),
                        (0, *_pair(pool.padding)), ceil_mode=pool.ceil_mode,
                        count_include_pad=pool.count_include_pad)


def _adaptive_avg3d(pool: nn.AdaptiveAvgPool2d, **_) -> nn.AdaptiveAvgPool3d:
    return nn.AdaptiveAvgPool3d((None, *_pair(pool.output_size)))


def _conv_kwargs(module: nn.Module, options: dict) -> dict:
    pointwise = all(k == 1 for k in module.kernel_size)
    kernel_t = options['pointwise_temporal_kernel'] if pointwise else options['temporal_kernel']
    return dict(kernel_t=kernel_t, temporal=options['temporal'],
                stride_t=options['temporal_stride'] if not pointwise else 1)


#: 2-D module type -> function(module, **options) returning its 3-D version. The most
#: derived registered class of a module decides (CPConv2d -> CPConv's entry).
TRANSDUCERS: Dict[type, Callable[..., nn.Module]] = {
    CPConv: lambda m, **o: transduce_cp_conv(m, **_conv_kwargs(m, o)),
    TuckerConv: lambda m, **o: transduce_tucker_conv(m, temporal_rank=o['temporal_rank'],
                                                     **_conv_kwargs(m, o)),
    nn.Conv2d: lambda m, **o: inflate_conv(m, **_conv_kwargs(m, o)),
    nn.BatchNorm2d: _norm3d,
    nn.MaxPool2d: _maxpool3d,
    nn.AvgPool2d: _avgpool3d,
    nn.AdaptiveAvgPool2d: _adaptive_avg3d,
}


def _transducer(module: nn.Module) -> Optional[Callable[..., nn.Module]]:
    for cls in type(module).__mro__:
        if cls in TRANSDUCERS:
            return TRANSDUCERS[cls]
    return None


def transduce(model: nn.Module,
              temporal_kernel: int = 3,
              temporal: Union[str, torch.Tensor] = 'delta',
              temporal_stride: int = 1,
              pointwise_temporal_kernel: int = 1,
              temporal_rank: int = 1,
              inplace: bool = False) -> nn.Module:
    """Turn a 2-D CP/Tucker network into its 3-D (time, height, width) version.

    Every module whose type (or a base class) is in :data:`TRANSDUCERS` is replaced: CP and
    Tucker convs gain a temporal mode (:func:`transduce_cp_conv`,
    :func:`transduce_tucker_conv`), dense ``nn.Conv2d`` are inflated (:func:`inflate_conv`),
    ``BatchNorm2d`` / ``MaxPool2d`` / ``AvgPool2d`` / ``AdaptiveAvgPool2d`` become their 3-D
    counterparts (pools act frame by frame). Element-wise modules, containers and linear
    layers are kept. The network's ``forward`` must use modules (or dimension-agnostic
    functions such as ``F.relu``) for its 2-D operations; a functional 2-D op (e.g.
    ``F.adaptive_avg_pool2d``) cannot be converted and fails on 5-D input.

    Args:
        model: the 2-D network (input (N, C, H, W)).
        temporal_kernel: temporal kernel of convs whose spatial kernel is larger than 1x1.
        temporal: temporal init (see :func:`temporal_factor`); ``'delta'`` makes the 3-D network
            equal the 2-D one applied frame by frame.
        temporal_stride: temporal stride of those convs.
        pointwise_temporal_kernel: temporal kernel of 1x1 convs (default 1: they stay
            frame-wise).
        temporal_rank: rank of the temporal mode of Tucker convs.
        inplace: convert ``model`` itself instead of a deep copy.

    Returns:
        the 3-D network (input (N, C, T, H, W)). Transduced modules carry
        ``temporal_param_names``, the names of their temporal-only parameters.

    Raises:
        ValueError: the network has no module to transduce, or a module whose type names it as
            2-D (``...2d``) and that no transducer handles (listed with the allowed types).
    """
    if not isinstance(temporal_kernel, int) or temporal_kernel < 1:
        raise ValueError(f'temporal_kernel must be an int >= 1, got {temporal_kernel!r}')
    net = model if inplace else copy.deepcopy(model)
    options = dict(temporal_kernel=temporal_kernel, temporal=temporal,
                   temporal_stride=temporal_stride,
                   pointwise_temporal_kernel=pointwise_temporal_kernel,
                   temporal_rank=temporal_rank)
    unsupported, converted = [], []

    def visit(parent: nn.Module, prefix: str) -> None:
        for name, child in parent.named_children():
            full = f'{prefix}{name}'
            fn = _transducer(child)
            if fn is not None:
                setattr(parent, name, fn(child, **options))
                converted.append(full)
            elif type(child).__name__.lower().endswith('2d'):
                unsupported.append(f'{full} ({type(child).__name__})')
            else:
                visit(child, full + '.')

    if _transducer(net) is not None:  # a single layer
        return _transducer(net)(net, **options)
    visit(net, '')
    if unsupported:
        raise ValueError(f'transduce: no 3-D version for {unsupported}; allowed 2-D types: '
                         f'{[c.__name__ for c in TRANSDUCERS]}')
    if not converted:
        raise ValueError(f'transduce: {type(model).__name__} has no module to transduce; '
                         f'allowed types: {[c.__name__ for c in TRANSDUCERS]}')
    net.transduced_names = converted
    return net
