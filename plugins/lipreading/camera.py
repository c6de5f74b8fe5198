"""Head pose and camera models for 3DMM fitting and rendering.

Rotation: ``R = Rz(roll) @ Rx(pitch) @ Ry(yaw)`` (angles in degrees at the API, radians inside),
applied to model coordinates (x right, y up, z towards the camera). Positive yaw turns the face's
+x side away from the camera.

Image coordinates: x right, y down, pixel centres at integer coordinates.

* ``'orthographic'`` (scaled orthographic / weak perspective):
  ``u = s * (R X)_x + tx``, ``v = -s * (R X)_y + ty``; depth ``(R X)_z`` (larger = nearer).
* ``'perspective'`` (pinhole, camera at the origin looking along -z):
  ``Xc = R X + t`` with ``tz < 0``; ``u = cx + f * Xc_x / (-Xc_z)``,
  ``v = cy - f * Xc_y / (-Xc_z)``; depth ``Xc_z`` (larger = nearer).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Tuple

import numpy as np

__all__ = ['rotation_matrix', 'euler_from_rotation', 'Pose', 'project', 'CAMERA_TYPES']

CAMERA_TYPES = ('orthographic', 'perspective')


def rotation_matrix(yaw, pitch, roll) -> np.ndarray:
    """Rotation matrices from Euler angles in **radians**; broadcasts over leading dims.

    Returns:
        ``(..., 3, 3)`` array ``Rz(roll) @ Rx(pitch) @ Ry(yaw)``.
    """
    yaw, pitch, roll = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                             for a in (yaw, pitch, roll)))
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    cr, sr = np.cos(roll), np.sin(roll)
    o, z = np.ones_like(yaw), np.zeros_like(yaw)
    ry = np.stack([np.stack([cy, z, sy], -1), np.stack([z, o, z], -1),
                   np.stack([-sy, z, cy], -1)], -2)
    rx = np.stack([np.stack([o, z, z], -1), np.stack([z, cp, -sp], -1),
                   np.stack([z, sp, cp], -1)], -2)
    rz = np.stack([np.stack([cr, -sr, z], -1), np.stack([sr, cr, z], -1),
                   np.stack([z, z, o], -1)], -2)
    return rz @ rx @ ry


def euler_from_rotation(r: np.ndarray) -> Tuple[float, float, float]:
    """Inverse of :func:`rotation_matrix` (radians), valid for ``|pitch| < 90`` degrees."""
    # R = Rz Rx Ry: R[2,1] = sin(pitch); R[2,0] = -cos(p) sin(y); R[2,2] = cos(p) cos(y);
    # R[0,1] = -sin(r) cos(p); R[1,1] = cos(r) cos(p)
    pitch = np.arcsin(np.clip(r[2, 1], -1, 1))
    yaw = np.arctan2(-r[2, 0], r[2, 2])
    roll = np.arctan2(-r[0, 1], r[1, 1])
    return float(yaw), float(pitch), float(roll)


@dataclass
class Pose:
    """Head pose and camera.

    Attributes:
        yaw, pitch, roll: Degrees.
        scale: Pixels per model unit (orthographic only).
        t: ``(tx, ty)`` pixels (orthographic) or ``(tx, ty, tz)`` model units (perspective).
        camera: ``'orthographic'`` or ``'perspective'``.
        focal, cx, cy: Pinhole intrinsics in pixels (perspective only).
    """
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    scale: float = 1.0
    t: np.ndarray = field(default_factory=lambda: np.zeros(2))
    camera: str = 'orthographic'
    focal: float = 500.0
    cx: float = 0.0
    cy: float = 0.0

    def __post_init__(self) -> None:
        if self.camera not in CAMERA_TYPES:
            raise ValueError(f'camera must be one of {CAMERA_TYPES}, got {self.camera!r}')
        self.t = np.asarray(self.t, dtype=np.float64)
        need = 2 if self.camera == 'orthographic' else 3
        if self.t.shape != (need, ):
            raise ValueError(f'{self.camera} camera needs t of length {need}, got {self.t.shape}')

    @property
    def rotation(self) -> np.ndarray:
        return rotation_matrix(*np.deg2rad([self.yaw, self.pitch, self.roll]))

    def replace(self, **kwargs) -> 'Pose':
        return replace(self, **kwargs)


def project(points: np.ndarray, pose: Pose) -> Tuple[np.ndarray, np.ndarray]:
    """Project model-space points into the image.

    Args:
        points: ``(N, 3)`` model coordinates.
        pose: Pose and camera.

    Returns:
        ``(uv, depth)``: ``(N, 2)`` pixel coordinates and ``(N,)`` depth (larger = nearer).
    """
    xr = points @ pose.rotation.T
    if pose.camera == 'orthographic':
        uv = np.stack([pose.scale * xr[:, 0] + pose.t[0], -pose.scale * xr[:, 1] + pose.t[1]],
                      -1)
        return uv, xr[:, 2]
    xc = xr + pose.t
    d = -xc[:, 2]
    if np.any(d <= 0):
        raise ValueError('perspective projection: points behind the camera (need tz < 0 and '
                         'the face in front of the camera)')
    uv = np.stack([pose.cx + pose.focal * xc[:, 0] / d, pose.cy - pose.focal * xc[:, 1] / d], -1)
    return uv, xc[:, 2]
