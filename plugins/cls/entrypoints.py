"""timm entry points of the classification networks (``timm.create_model('<name>')``).

Every variant is a row of :data:`VARIANTS` (architecture keyword arguments of
:class:`~plugins.cls.resnets.ConvCfgResNet`), registered with timm's ``register_model`` for
depths 18 and 34:

==============================  ===============================================================
name                            network
==============================  ===============================================================
``real_resnet{18,34}``          real ResNet baseline (He et al. layout, same as timm's resnet)
``real_bireal_resnet{18,34}``   real network in the binary layout (Bi-Real skips, PReLU)
``binary_resnet{d}_none``       binary 3x3 convs, no scaling
``binary_resnet{d}_xnor``       binary, XNOR-Net analytic weight scale ``mean |W|``
``binary_resnet{d}_channel``    binary, learned scale per output channel (XNOR-Net++)
``binary_resnet{d}_chw``        binary, learned scale per output channel x row x column
``binary_resnet{d}_rank1``      binary, learned rank-1 scale ``alpha (x) beta (x) gamma``
``binary_resnet{d}_latent_svd``  binary, weights = sign of a rank-r SVD latent (Bulat et al.)
``..._latent_tucker/_cp``       same with a Tucker / CP latent
``cp_resnet{d}``, ``tucker_resnet{d}``  real ResNet with CP / Tucker 3x3 convs
==============================  ===============================================================

Keyword arguments of ``create_model`` override the row (``width``, ``stem='small'``,
``conv_cfg=...``, ``num_classes``, ``in_chans`` ...).

Pretrained configs are data (:data:`default_cfgs`) without any URL or hub id: nothing is ever
downloaded. ``pretrained=True`` needs a local file,
``timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file='ckpt.pth'))``,
and otherwise raises a ``ValueError``.
"""
from __future__ import annotations

import sys
from typing import Any, Callable

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._builder import resolve_pretrained_cfg

from .resnets import ConvCfgResNet

__all__: list[str] = ['VARIANTS', 'DEPTHS', 'default_cfgs']

#: blocks per stage for each depth
DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

_BINARY_LAYOUT = dict(skip='conv', shortcut='avgpool', act_cfg=dict(type='PReLU'))


def _binary(**conv: Any) -> dict:
    return dict(_BINARY_LAYOUT, conv_cfg=dict(type='BinaryConv2d', **conv))


#: name pattern (``{d}`` = depth) -> keyword arguments of ConvCfgResNet
VARIANTS: dict[str, dict] = {
    'real_resnet{d}': dict(skip='block', shortcut='conv', conv_cfg=None),
    'real_bireal_resnet{d}': dict(_BINARY_LAYOUT, conv_cfg=None),
    'binary_resnet{d}_none': _binary(scale='none'),
    'binary_resnet{d}_xnor': _binary(scale='xnor'),
    'binary_resnet{d}_channel': _binary(scale='learned', scale_shape='channel'),
    'binary_resnet{d}_chw': _binary(scale='learned', scale_shape='chw'),
    'binary_resnet{d}_rank1': _binary(scale='learned', scale_shape='rank1'),
    'binary_resnet{d}_latent_svd': _binary(scale='learned', scale_shape='channel',
                                           latent=dict(type='SVD', rank=0.5)),
    'binary_resnet{d}_latent_tucker': _binary(scale='learned', scale_shape='channel',
                                              latent=dict(type='Tucker', rank=0.5)),
    'binary_resnet{d}_latent_cp': _binary(scale='learned', scale_shape='channel',
                                          latent=dict(type='CP', rank=0.1)),
    'cp_resnet{d}': dict(skip='block', shortcut='conv', conv_cfg=dict(type='CPConv', rank=0.5)),
    'tucker_resnet{d}': dict(skip='block', shortcut='conv',
                             conv_cfg=dict(type='TuckerConv', rank=0.5)),
}


def _cfg(**kwargs: Any) -> dict:
    return dict(url='', num_classes=1000, input_size=(3, 224, 224), pool_size=(7, 7),
                crop_pct=0.875, interpolation='bilinear', mean=IMAGENET_DEFAULT_MEAN,
                std=IMAGENET_DEFAULT_STD, first_conv='stem.0', classifier='fc',
                notes=('no weights are shipped or downloaded; pass '
                       'pretrained_cfg_overlay=dict(file=...) to load a local checkpoint', ),
                **kwargs)


def _names() -> list[tuple[str, int, dict]]:
    return [(p.format(d=d), d, kw) for p in VARIANTS for d in DEPTHS for kw in [VARIANTS[p]]]


default_cfgs = generate_default_cfgs({name: _cfg() for name, _, _ in _names()})


def _create(variant: str, pretrained: bool, **kwargs: Any) -> ConvCfgResNet:
    if pretrained:
        cfg = resolve_pretrained_cfg(variant, kwargs.get('pretrained_cfg'),
                                     kwargs.get('pretrained_cfg_overlay')).to_dict()
        if not (cfg.get('file') or cfg.get('state_dict')):
            raise ValueError(
                f'{variant}: no pretrained weights are shipped and nothing is downloaded; pass '
                f"pretrained_cfg_overlay=dict(file='path/to/checkpoint.pth') or pretrained=False")
    return build_model_with_cfg(ConvCfgResNet, variant, pretrained, **kwargs)


def _entrypoint(name: str, depth: int, arch: dict) -> Callable[..., ConvCfgResNet]:

    def fn(pretrained: bool = False, **kwargs: Any) -> ConvCfgResNet:
        return _create(name, pretrained, **dict(arch, layers=DEPTHS[depth], **kwargs))

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = __name__
    fn.__doc__ = f'{name}: ConvCfgResNet(layers={DEPTHS[depth]}, {arch}).'
    return fn


_module = sys.modules[__name__]
for _name, _depth, _arch in _names():
    setattr(_module, _name, register_model(_entrypoint(_name, _depth, _arch)))

#: every registered entry point name
MODEL_NAMES = tuple(name for name, _, _ in _names())
__all__.append('MODEL_NAMES')
