"""Kinematic tree of the synthetic figure: MPII joints, bone proportions and joint limits.

A pose is sampled in a *canonical frame*: units of standing height (about 1.0 from ankle to
head top), ``y`` pointing up, pelvis at the origin, and the figure facing the camera, so the
figure's right side is at negative ``x`` (MPII's "right" is always the person's right). Angles
are relative to the parent bone; limb angles are signed so that the same limit holds for the
right and the left side (``shoulder``/``hip``: abduction, positive = away from the body;
``elbow``/``knee``: flexion, positive = towards the body's midline). Every limb segment is
shortened by a foreshortening factor in ``[foreshortening, 1]`` (out-of-plane rotation).
"""
from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np

# MPII joint order (MMPose's ``configs/_base_/datasets/mpii.py``).
JOINT_NAMES: Tuple[str, ...] = (
    'right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee', 'left_ankle', 'pelvis',
    'thorax', 'upper_neck', 'head_top', 'right_wrist', 'right_elbow', 'right_shoulder',
    'left_shoulder', 'left_elbow', 'left_wrist')
NUM_JOINTS = len(JOINT_NAMES)
J = {name: i for i, name in enumerate(JOINT_NAMES)}

# Bones as (parent joint, child joint), named as the body segment they span.
BONES: Dict[str, Tuple[int, int]] = {
    'spine': (J['pelvis'], J['thorax']),
    'neck': (J['thorax'], J['upper_neck']),
    'head': (J['upper_neck'], J['head_top']),
    'right_upper_arm': (J['right_shoulder'], J['right_elbow']),
    'right_forearm': (J['right_elbow'], J['right_wrist']),
    'left_upper_arm': (J['left_shoulder'], J['left_elbow']),
    'left_forearm': (J['left_elbow'], J['left_wrist']),
    'right_thigh': (J['right_hip'], J['right_knee']),
    'right_shin': (J['right_knee'], J['right_ankle']),
    'left_thigh': (J['left_hip'], J['left_knee']),
    'left_shin': (J['left_knee'], J['left_ankle']),
}

# Joint limits in radians, (low, high).
JOINT_LIMITS: Dict[str, Tuple[float, float]] = {
    'lean': (-0.35, 0.35),       # pelvis "up" axis from vertical (before the scene rotation)
    'spine': (-0.35, 0.35),      # thorax direction relative to the pelvis axis
    'neck': (-0.4, 0.4),         # relative to the spine
    'head': (-0.5, 0.5),         # relative to the neck
    'shoulder': (-0.6, 3.0),     # upper-arm abduction from hanging down
    'elbow': (-1.0, 2.6),        # forearm flexion, positive towards the midline
    'hip': (-0.4, 1.4),          # thigh abduction from straight down
    'knee': (-0.8, 0.8),         # shin flexion, positive towards the midline
}

# Mean proportions in units of standing height.
PROPORTIONS: Dict[str, float] = {
    'spine': 0.28, 'neck': 0.045, 'head': 0.14, 'upper_arm': 0.17, 'forearm': 0.15,
    'thigh': 0.245, 'shin': 0.245, 'shoulder_half_width': 0.11, 'hip_half_width': 0.065,
}

SIDES = ('right', 'left')
# Sign of an outward (abduction) rotation for each side in the canonical frame.
OUTWARD_SIGN = {'right': -1.0, 'left': 1.0}


@dataclass
class Pose:
    """A sampled pose in the canonical frame.

    Args:
        joints: ``(16, 2)`` joint positions, MPII order, canonical frame (y up).
        angles: joint angles in radians keyed ``lean``, ``spine``, ``neck``, ``head`` and
            ``<side>_<joint>`` for ``shoulder``, ``elbow``, ``hip``, ``knee``.
        lengths: bone lengths after foreshortening, keyed as :data:`BONES`.
    """
    joints: np.ndarray
    angles: Dict[str, float] = field(default_factory=dict)
    lengths: Dict[str, float] = field(default_factory=dict)


def rotate(vec: np.ndarray, angle: float) -> np.ndarray:
    """Rotate a 2-vector counter-clockwise (y up) by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * vec[0] - s * vec[1], s * vec[0] + c * vec[1]])


def limb_angle(name: str, side: str, parent_dir: np.ndarray, child_dir: np.ndarray) -> float:
    """Signed limb angle as defined by :data:`JOINT_LIMITS` (the inverse of sampling).

    Args:
        name: ``shoulder``, ``hip`` (abduction from ``parent_dir``, which points along the
            hanging limb) or ``elbow``, ``knee`` (flexion relative to ``parent_dir``, the
            parent bone's direction).
        side: ``right`` or ``left``.
        parent_dir, child_dir: 2-vectors in the canonical frame.
    """
    signed = np.arctan2(parent_dir[0] * child_dir[1] - parent_dir[1] * child_dir[0],
                        parent_dir @ child_dir)
    if name in ('shoulder', 'hip'):
        return float(signed * OUTWARD_SIGN[side])
    if name in ('elbow', 'knee'):
        return float(-signed * OUTWARD_SIGN[side])
    raise KeyError(f'unknown limb joint {name!r}; choose shoulder, hip, elbow or knee')


def sample_pose(rng: np.random.Generator,
                limits: Dict[str, Tuple[float, float]] = JOINT_LIMITS,
                foreshortening: float = 0.5,
                proportion_jitter: float = 0.1) -> Pose:
    """Sample a random pose from the kinematic tree within the joint limits.

    Args:
        rng: the random generator (the only source of randomness).
        limits: joint limits, as :data:`JOINT_LIMITS`.
        foreshortening: smallest length factor of a limb segment (1 = planar poses).
        proportion_jitter: relative jitter of the body proportions (same on both sides).

    Returns:
        The :class:`Pose` in the canonical frame.
    """
    missing = set(JOINT_LIMITS) - set(limits)
    if missing:
        raise KeyError(f'joint limits miss {sorted(missing)}; need {sorted(JOINT_LIMITS)}')
    if not 0.0 < foreshortening <= 1.0:
        raise ValueError(f'foreshortening must be in (0, 1], got {foreshortening}')

    def angle(name: str) -> float:
        lo, hi = limits[name]
        return float(rng.uniform(lo, hi))

    def shorten(low: float) -> float:
        # biased towards 1: most limbs lie roughly in the image plane
        return 1.0 - (1.0 - low) * float(rng.random()) ** 2

    prop = {k: v * (1.0 + proportion_jitter * float(rng.uniform(-1, 1)))
            for k, v in PROPORTIONS.items()}
    joints = np.zeros((NUM_JOINTS, 2))
    angles: Dict[str, float] = {}
    lengths: Dict[str, float] = {}

    angles['lean'] = angle('lean')
    up = rotate(np.array([0.0, 1.0]), angles['lean'])
    angles['spine'] = angle('spine')
    spine_dir = rotate(up, angles['spine'])
    lengths['spine'] = prop['spine'] * shorten(max(foreshortening, 0.75))
    joints[J['pelvis']] = 0.0
    joints[J['thorax']] = spine_dir * lengths['spine']
    angles['neck'] = angle('neck')
    neck_dir = rotate(spine_dir, angles['neck'])
    lengths['neck'] = prop['neck']
    joints[J['upper_neck']] = joints[J['thorax']] + neck_dir * lengths['neck']
    angles['head'] = angle('head')
    head_dir = rotate(neck_dir, angles['head'])
    lengths['head'] = prop['head']
    joints[J['head_top']] = joints[J['upper_neck']] + head_dir * lengths['head']

    for side in SIDES:
        out = OUTWARD_SIGN[side]
        # "right" vector of a segment pointing along d is rotate(d, +90deg) (figure faces us)
        sh = joints[J['thorax']] - out * rotate(spine_dir, np.pi / 2) * prop[
            'shoulder_half_width']
        hip = joints[J['pelvis']] - out * rotate(up, np.pi / 2) * prop['hip_half_width']
        joints[J[f'{side}_shoulder']] = sh
        joints[J[f'{side}_hip']] = hip

        a = angles[f'{side}_shoulder'] = angle('shoulder')
        upper_dir = rotate(-spine_dir, out * a)
        lengths[f'{side}_upper_arm'] = prop['upper_arm'] * shorten(foreshortening)
        joints[J[f'{side}_elbow']] = sh + upper_dir * lengths[f'{side}_upper_arm']
        a = angles[f'{side}_elbow'] = angle('elbow')
        fore_dir = rotate(upper_dir, -out * a)
        lengths[f'{side}_forearm'] = prop['forearm'] * shorten(foreshortening)
        joints[J[f'{side}_wrist']] = (joints[J[f'{side}_elbow']]
                                      + fore_dir * lengths[f'{side}_forearm'])

        a = angles[f'{side}_hip'] = angle('hip')
        thigh_dir = rotate(-up, out * a)
        lengths[f'{side}_thigh'] = prop['thigh'] * shorten(foreshortening)
        joints[J[f'{side}_knee']] = hip + thigh_dir * lengths[f'{side}_thigh']
        a = angles[f'{side}_knee'] = angle('knee')
        shin_dir = rotate(thigh_dir, -out * a)
        lengths[f'{side}_shin'] = prop['shin'] * shorten(foreshortening)
        joints[J[f'{side}_ankle']] = (joints[J[f'{side}_knee']]
                                      + shin_dir * lengths[f'{side}_shin'])
    return Pose(joints=joints, angles=angles, lengths=lengths)
