"""MMPose's ResNet with a conv config of its own for the stem.

The binary-network papers keep the first convolution, the one that reads the RGB image, real
(XNOR-Net, Rastegari et al., ECCV 2016, sec. 4; "Binarized Convolutional Landmark
Localizers", Bulat & Tzimiropoulos, ICCV 2017). MMPose's ``ResNet`` builds every convolution,
stem included, from one ``conv_cfg``, so ``conv_cfg=dict(type='BinaryConv2d')`` would
binarise the stem too. :class:`RealStemResNet` builds the stem from ``stem_conv_cfg``
(default: a dense ``nn.Conv2d``) and everything else from ``conv_cfg``; with a real
``conv_cfg`` it is MMPose's ``ResNet`` module for module and, under the same seed, number for
number.
"""
from __future__ import annotations

from typing import Optional

from mmpose.models.backbones import ResNet
from mmpose.registry import MODELS


@MODELS.register_module()
class RealStemResNet(ResNet):
    """MMPose ``ResNet`` whose stem convolution(s) use ``stem_conv_cfg``.

    Args:
        stem_conv_cfg: conv config of the stem (the 7x7 conv, or the three 3x3 convs with
            ``deep_stem=True``); None builds a dense ``nn.Conv2d``.
        *args, **kwargs: as MMPose's ``ResNet`` (``conv_cfg`` applies to the residual
            stages, their shortcuts included).

    Input (N, in_channels, H, W); outputs as MMPose's ``ResNet``.
    """

    def __init__(self, *args, stem_conv_cfg: Optional[dict] = None, **kwargs) -> None:
        self.stem_conv_cfg = stem_conv_cfg
        super().__init__(*args, **kwargs)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        stage_cfg = self.conv_cfg
        self.conv_cfg = self.stem_conv_cfg  # ResNet's stem builder reads self.conv_cfg
        try:
            super()._make_stem_layer(in_channels, stem_channels)
        finally:
            self.conv_cfg = stage_cfg
