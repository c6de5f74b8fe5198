"""Pose-invariant lip reading ("Towards pose-invariant lip-reading"): 3DMM fitting and
rendering (the data, model and evaluation parts follow). See docs/lipreading.md.
"""
from .camera import Pose, euler_from_rotation, project, rotation_matrix  # noqa: F401
from .fitting import FitResult, LandmarkError, fit_clip, fit_landmarks  # noqa: F401
from .morphable_model import (MorphableModel, MorphableModelFormatError,  # noqa: F401
                              generate_toy_model)
from .pose_augment import PoseAugmenter, build_morphable_model  # noqa: F401
from .renderer import rasterize, render_colors, render_textured  # noqa: F401
