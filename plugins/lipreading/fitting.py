"""Fit a 3DMM (identity, expression, head pose) to 2-D facial landmarks.

Minimises ``sum ||project(X_lmk(alpha, beta), pose) - x||^2 / size^2 + lambda_s ||alpha||^2 +
lambda_e ||beta||^2`` (``size`` = landmark bounding-box diagonal, so the weights do not depend on
the image scale) with Levenberg-Marquardt (damped Gauss-Newton). The Jacobian is taken by
forward differences, evaluated for all parameters at once in one batched projection, which is
cheap because only the ``L`` landmark vertices are involved. The pose is initialised in closed
form: an affine camera fitted by linear least squares to the mean shape, projected onto the
nearest scaled rotation (SVD). Works for the scaled-orthographic and the perspective camera of
:mod:`.camera`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .camera import CAMERA_TYPES, Pose, euler_from_rotation, rotation_matrix
from .morphable_model import MorphableModel

__all__ = ['FitResult', 'fit_landmarks', 'fit_clip', 'LandmarkError']


class LandmarkError(ValueError):
    """Landmarks are missing, have the wrong shape, or contain non-finite values."""


@dataclass
class FitResult:
    """Fitted parameters: ``pose``, ``shape (Ks,)``, ``expr (Ke,)``, ``rmse`` in pixels."""
    pose: Pose
    shape: np.ndarray
    expr: np.ndarray
    rmse: float


def check_landmarks(lmk: np.ndarray, num: int) -> np.ndarray:
    """Validate ``(num, 2)`` landmarks and return them as float64."""
    if lmk is None:
        raise LandmarkError('landmarks are missing (None); 3DMM fitting needs per-frame 2-D '
                            'landmarks')
    lmk = np.asarray(lmk, dtype=np.float64)
    if lmk.shape != (num, 2):
        raise LandmarkError(f'expected landmarks of shape ({num}, 2) matching the morphable '
                            f'model, got {lmk.shape}')
    if not np.all(np.isfinite(lmk)):
        raise LandmarkError('landmarks contain NaN/inf (missing detections)')
    return lmk


class _Problem:
    """Residual function over a parameter vector (see :func:`fit_landmarks`)."""

    def __init__(self, model, lmk, camera, focal, cx, cy, lambda_shape, lambda_expr):
        self.model, self.lmk, self.camera = model, lmk, camera
        self.focal, self.cx, self.cy = focal, cx, cy
        rows = (model.landmarks[:, None] * 3 + np.arange(3)).reshape(-1)
        self.mean = model.mean[rows].reshape(-1, 3)
        self.bs = model.shape_basis[rows].reshape(-1, 3, model.num_shape)
        self.be = model.expr_basis[rows].reshape(-1, 3, model.num_expr)
        self.ks, self.ke = model.num_shape, model.num_expr
        span = lmk.max(0) - lmk.min(0)
        self.size = float(np.hypot(*span)) or 1.0
        self.ws, self.we = np.sqrt(lambda_shape), np.sqrt(lambda_expr)

    def project(self, p: np.ndarray) -> np.ndarray:
        """``p (B, 6 + Ks + Ke)`` -> ``(B, L, 2)`` projected landmarks."""
        alpha, beta = p[:, 6:6 + self.ks], p[:, 6 + self.ks:]
        x = (self.mean[None] + np.einsum('ljk,bk->blj', self.bs, alpha) +
             np.einsum('ljk,bk->blj', self.be, beta))
        r = rotation_matrix(p[:, 0], p[:, 1], p[:, 2])
        xr = np.einsum('bij,blj->bli', r, x)
        if self.camera == 'orthographic':
            s = np.exp(p[:, 3])[:, None]
            return np.stack([s * xr[..., 0] + p[:, 4:5], -s * xr[..., 1] + p[:, 5:6]], -1)
        xc = xr + p[:, None, 3:6]
        d = np.maximum(-xc[..., 2], 1e-6)
        return np.stack([self.cx + self.focal * xc[..., 0] / d,
                         self.cy - self.focal * xc[..., 1] / d], -1)

    def residuals(self, p: np.ndarray) -> np.ndarray:
        """``(B, n)`` -> ``(B, m)`` residuals."""
        e = (self.project(p) - self.lmk[None]).reshape(len(p), -1) / self.size
        return np.concatenate([e, self.ws * p[:, 6:6 + self.ks], self.we * p[:, 6 + self.ks:]],
                              1)

    def to_result(self, p: np.ndarray) -> FitResult:
        yaw, pitch, roll = np.rad2deg(p[:3])
        if self.camera == 'orthographic':
            pose = Pose(yaw, pitch, roll, scale=float(np.exp(p[3])), t=p[4:6].copy())
        else:
            pose = Pose(yaw, pitch, roll, t=p[3:6].copy(), camera='perspective',
                        focal=self.focal, cx=self.cx, cy=self.cy)
        err = self.project(p[None])[0] - self.lmk
        return FitResult(pose, p[6:6 + self.ks].copy(), p[6 + self.ks:].copy(),
                         float(np.sqrt((err**2).sum(-1).mean())))


def _initial_pose(x3: np.ndarray, lmk: np.ndarray) -> np.ndarray:
    """Closed-form scaled-orthographic pose ``[yaw, pitch, roll, log s, tx, ty]``."""
    a = np.concatenate([x3, np.ones((len(x3), 1))], 1)
    m, *_ = np.linalg.lstsq(a, lmk, rcond=None)               # (4, 2)
    r1, r2 = m[:3, 0], -m[:3, 1]
    s = 0.5 * (np.linalg.norm(r1) + np.linalg.norm(r2))
    r = np.stack([r1, r2, np.cross(r1, r2)])
    u, _, vt = np.linalg.svd(r)
    r = u @ np.diag([1, 1, np.sign(np.linalg.det(u @ vt))]) @ vt
    yaw, pitch, roll = euler_from_rotation(r)
    return np.array([yaw, pitch, roll, np.log(max(s, 1e-8)), m[3, 0], m[3, 1]])


def fit_landmarks(model: MorphableModel,
                  landmarks: np.ndarray,
                  camera: str = 'orthographic',
                  focal: float = 500.0,
                  principal_point: Optional[tuple] = None,
                  shape: Optional[np.ndarray] = None,
                  init: Optional[FitResult] = None,
                  lambda_shape: float = 1e-3,
                  lambda_expr: float = 1e-3,
                  fit_expr: bool = True,
                  max_iters: int = 30,
                  tol: float = 1e-10) -> FitResult:
    """Fit identity, expression and pose to one frame's landmarks.

    Args:
        model: The morphable model (``L`` landmark vertices).
        landmarks: ``(L, 2)`` pixel coordinates.
        camera: ``'orthographic'`` (scaled orthographic) or ``'perspective'``.
        focal: Focal length in pixels (perspective).
        principal_point: ``(cx, cy)`` (perspective; default: landmark centroid).
        shape: Fixed identity ``(Ks,)`` (then only pose and expression are fitted).
        init: Warm start (e.g. the previous frame's result).
        lambda_shape, lambda_expr: Ridge weights on the coefficients.
        fit_expr: Fit expression coefficients (else keep them at 0 / ``init``).
        max_iters: Levenberg-Marquardt iterations.
        tol: Stop when the relative cost decrease is below this.

    Returns:
        :class:`FitResult`.

    Raises:
        LandmarkError: missing / malformed landmarks.
        ValueError: unknown camera.
    """
    if camera not in CAMERA_TYPES:
        raise ValueError(f'camera must be one of {CAMERA_TYPES}, got {camera!r}')
    lmk = check_landmarks(landmarks, len(model.landmarks))
    cx, cy = principal_point if principal_point is not None else lmk.mean(0)
    prob = _Problem(model, lmk, camera, focal, cx, cy, lambda_shape, lambda_expr)
    ks, ke = model.num_shape, model.num_expr
    p = np.zeros(6 + ks + ke)
    if shape is not None:
        p[6:6 + ks] = shape
    if init is not None:
        ip = init.pose
        p[:3] = np.deg2rad([ip.yaw, ip.pitch, ip.roll])
        if camera == 'orthographic':
            p[3], p[4:6] = np.log(ip.scale), ip.t
        else:
            p[3:6] = ip.t
        if shape is None:
            p[6:6 + ks] = init.shape
        p[6 + ks:] = init.expr
    else:
        x3 = prob.mean + prob.bs @ p[6:6 + ks]
        p[:6] = _initial_pose(x3, lmk)
        if camera == 'perspective':
            s = np.exp(p[3])
            d0 = focal / s
            p[3:6] = [(p[4] - cx) / s, -(p[5] - cy) / s, -d0]
    free = np.ones(len(p), dtype=bool)
    if shape is not None:
        free[6:6 + ks] = False
    if not fit_expr:
        free[6 + ks:] = False
    fidx = np.flatnonzero(free)
    h = 1e-6
    r = prob.residuals(p[None])[0]
    cost = float(r @ r)
    mu = 1e-3
    for _ in range(max_iters):
        pert = np.repeat(p[None], len(fidx), 0)
        pert[np.arange(len(fidx)), fidx] += h
        jac = ((prob.residuals(pert) - r[None]) / h).T              # (m, nfree)
        jtj, jtr = jac.T @ jac, jac.T @ r
        improved = False
        for _ in range(8):
            a = jtj + mu * (np.diag(np.diag(jtj)) + 1e-9 * np.eye(len(fidx)))
            step = np.linalg.solve(a, -jtr)
            q = p.copy()
            q[fidx] += step
            rq = prob.residuals(q[None])[0]
            cq = float(rq @ rq)
            if np.isfinite(cq) and cq < cost:
                improved = True
                break
            mu *= 10
        if not improved:
            break
        rel = (cost - cq) / max(cost, 1e-30)
        p, r, cost, mu = q, rq, cq, max(mu / 10, 1e-9)
        if rel < tol:
            break
    return prob.to_result(p)


def fit_clip(model: MorphableModel,
             landmarks: np.ndarray,
             camera: str = 'orthographic',
             max_iters: int = 30,
             track_iters: int = 8,
             **kwargs) -> List[FitResult]:
    """Fit a clip: identity from the first frame, then pose+expression per frame (warm start).

    Args:
        model: The morphable model.
        landmarks: ``(T, L, 2)``.
        camera: See :func:`fit_landmarks`.
        max_iters: Iterations for the first frame.
        track_iters: Iterations for each later frame.
        **kwargs: Passed to :func:`fit_landmarks`.

    Returns:
        ``T`` results sharing one identity.
    """
    if landmarks is None:
        raise LandmarkError('landmarks are missing (None); 3DMM fitting needs per-frame 2-D '
                            'landmarks')
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 3:
        raise LandmarkError(f'expected clip landmarks (T, L, 2), got shape {landmarks.shape}')
    first = fit_landmarks(model, landmarks[0], camera=camera, max_iters=max_iters, **kwargs)
    out, prev = [first], first
    for t in range(1, len(landmarks)):
        prev = fit_landmarks(model, landmarks[t], camera=camera, shape=first.shape, init=prev,
                             max_iters=track_iters, **kwargs)
        out.append(prev)
    return out
