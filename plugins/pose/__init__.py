"""The hourglass family for pose estimation and face analysis (see docs/pose.md).

Blocks (``PreActBottleneck``, ``HPMBlock``) live in :data:`POSE_BLOCKS`, per-stack modules
(``HourglassModule``, ``HybridHourglassModule``) in :data:`HOURGLASS_MODULES`; the backbone
``StackedHourglass`` and the heads register into ``mmpose.registry.MODELS``.
"""
from .bottleneck import PreActBottleneck
from .gated_skip import SoftGatedSkip
from .hourglass import HourglassModule, StackedHourglass
from .hpm import HPMBlock
from .hybrid import HybridHourglassModule
from .iou_metric import PartIoU, confusion_matrix, iou_from_confusion
from .layers import PreActConv, Shortcut
from .multi_stack_head import MultiStackHeatmapHead
from .resnet import RealStemResNet
from .segmentation import FacePartSegmentor, MultiStackSegHead
from .registry import HOURGLASS_MODULES, POSE_BLOCKS, build_block, build_hourglass_module

__all__ = [
    'PreActBottleneck', 'HPMBlock', 'SoftGatedSkip', 'PreActConv', 'Shortcut',
    'HourglassModule', 'HybridHourglassModule', 'StackedHourglass',
    'MultiStackHeatmapHead', 'POSE_BLOCKS', 'HOURGLASS_MODULES', 'build_block',
    'build_hourglass_module', 'MultiStackSegHead', 'FacePartSegmentor', 'PartIoU',
    'confusion_matrix', 'iou_from_confusion', 'RealStemResNet'
]
