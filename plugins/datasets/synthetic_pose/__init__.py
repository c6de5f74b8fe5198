"""Embedded pose data: rendered articulated figures written in MMPose's MPII format.

``import plugins`` registers :func:`generate_mpii_synthetic` as ``mpii_synthetic`` in
:data:`plugins.datasets.DATA_GENERATORS`. See ``docs/datasets.md``.
"""
from .generate import generate_mpii_synthetic
from .scene import Sample, SceneOptions, render_sample
from .skeleton import BONES, JOINT_LIMITS, JOINT_NAMES, Pose, limb_angle, sample_pose

__all__ = [
    'generate_mpii_synthetic', 'Sample', 'SceneOptions', 'render_sample', 'BONES',
    'JOINT_LIMITS', 'JOINT_NAMES', 'Pose', 'limb_angle', 'sample_pose'
]
