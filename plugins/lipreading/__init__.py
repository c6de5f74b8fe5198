"""Pose-invariant lip reading ("Towards pose-invariant lip-reading"): LRW data, 3DMM fitting
and rendering, pose augmentation, the word-level lip-reading network and per-yaw evaluation.

Registers into mmengine's root registries: ``MODELS`` (:class:`LipReadingNet`,
:class:`LipDataPreprocessor`), ``DATASETS`` (:class:`LRWDataset`), ``TRANSFORMS`` (clip
transforms), ``METRICS`` (:class:`YawBinAccuracy`), and the ``lrw_synthetic`` data generator.
See docs/lipreading.md.
"""
from .camera import Pose, euler_from_rotation, project, rotation_matrix  # noqa: F401
from .dataset import LRWDataset  # noqa: F401
from .fitting import FitResult, LandmarkError, fit_clip, fit_landmarks  # noqa: F401
from .loading import ClipTooShortError, LoadLRWClip, read_clip  # noqa: F401
from .metric import YawBinAccuracy, plot_accuracy_vs_yaw, yaw_bin_accuracy  # noqa: F401
from .model import LipDataPreprocessor, LipReadingNet  # noqa: F401
from .morphable_model import (MorphableModel, MorphableModelFormatError,  # noqa: F401
                              generate_toy_model)
from .pose_augment import PoseAugmenter, build_morphable_model  # noqa: F401
from .renderer import rasterize, render_colors, render_textured  # noqa: F401
from .synthetic import generate_lrw_synthetic  # noqa: F401
from .transforms import (CenterClipCrop, ClipHorizontalFlip, ClipPoseAugment,  # noqa: F401
                         MouthROICrop, PackLipClip, RandomClipCrop, TimeMask)
