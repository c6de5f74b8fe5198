"""Classification: timm entry points of real/binary/factorised ResNets, an mmengine
classification model, incremental multi-domain learning and the Decathlon score
(see docs/cls.md)."""
from . import entrypoints  # noqa: F401  (registers the timm entry points)
from .classifier import ClsAccuracy, ClsDataPreprocessor, TimmClassifier
from .decathlon_score import decathlon_reference_errors, decathlon_score
from .entrypoints import MODEL_NAMES
from .multidomain import LatentTuckerResNet, TuckerTensorGroup
from .multidomain_classifier import InitNewDomainHook, MultiDomainClassifier
from .resnets import BasicBlock, ConvCfgResNet

__all__ = [
    'BasicBlock', 'ClsAccuracy', 'ClsDataPreprocessor', 'ConvCfgResNet', 'InitNewDomainHook',
    'LatentTuckerResNet', 'MODEL_NAMES', 'MultiDomainClassifier', 'TimmClassifier',
    'TuckerTensorGroup', 'decathlon_reference_errors', 'decathlon_score'
]
