"""3DMM pose augmentation ("Towards pose-invariant lip-reading"): fit, rotate, re-render.

For every frame: fit the morphable model to the frame's landmarks (one identity per clip), keep
the fitted expression, scale/translation and roll, replace yaw/pitch by the target, project the
fitted mesh at both poses and render it at the new pose with its texture sampled from the frame
at the old projection (:func:`.renderer.render_textured`). Pixels the rotated face does not
cover keep the original frame, except where the *source* face was: that region is filled by
inpainting from its surroundings (``fill_uncovered='inpaint'``, OpenCV Telea) so the original face
does not show through as a ghost next to the rotated one. The new landmarks are the projected landmark vertices, so the
mouth can be re-cropped afterwards.

Limitations: regions hidden in the source frame (the far cheek of a non-frontal face) are
textured from whatever the frame shows there; the inpainted background is a smooth guess.
"""
from __future__ import annotations

from typing import Optional, Tuple, Union

import cv2
import numpy as np

from .camera import project
from .fitting import fit_clip
from .morphable_model import MorphableModel, generate_toy_model
from .renderer import rasterize, render_textured

__all__ = ['PoseAugmenter', 'build_morphable_model']


def build_morphable_model(model: Union[None, str, MorphableModel, dict]) -> MorphableModel:
    """``None``/``'toy'`` -> :func:`generate_toy_model`; a path -> :meth:`MorphableModel.load`;
    a dict -> ``MorphableModel.load(**dict)``; a model is returned as is."""
    if model is None or model == 'toy':
        return generate_toy_model()
    if isinstance(model, MorphableModel):
        return model
    if isinstance(model, str):
        return MorphableModel.load(model)
    if isinstance(model, dict):
        return MorphableModel.load(**model)
    raise TypeError(f'morphable model must be None, "toy", a path, a dict or a MorphableModel; '
                    f'got {type(model).__name__}')


class PoseAugmenter:
    """Rotate the head in a clip to a target yaw/pitch with a fitted 3DMM.

    Args:
        model: Morphable model (see :func:`build_morphable_model`).
        camera: ``'orthographic'`` or ``'perspective'``.
        focal: Focal length in pixels (perspective).
        lambda_shape, lambda_expr: Fitting regularisation.
        max_rmse: Reject a clip whose mean landmark fitting error (pixels) exceeds this.
        fill_uncovered: ``'inpaint'`` (fill where the source face was but the rotated face is
            not; uint8 frames only) or ``'keep'`` (leave the source pixels).
    """
    FILL_MODES = ('inpaint', 'keep')

    def __init__(self,
                 model: Union[None, str, MorphableModel, dict] = None,
                 camera: str = 'orthographic',
                 focal: float = 500.0,
                 lambda_shape: float = 1e-3,
                 lambda_expr: float = 1e-4,
                 max_rmse: Optional[float] = None,
                 fill_uncovered: str = 'inpaint') -> None:
        if fill_uncovered not in self.FILL_MODES:
            raise ValueError(f'fill_uncovered must be one of {self.FILL_MODES}, got '
                             f'{fill_uncovered!r}')
        self.fill_uncovered = fill_uncovered
        self.model = build_morphable_model(model)
        self.camera = camera
        self.focal = focal
        self.lambda_shape, self.lambda_expr = lambda_shape, lambda_expr
        self.max_rmse = max_rmse

    def fit(self, frames: np.ndarray, landmarks: np.ndarray):
        h, w = frames.shape[1:3]
        kw = dict(principal_point=((w - 1) / 2, (h - 1) / 2), focal=self.focal) \
            if self.camera == 'perspective' else {}
        fits = fit_clip(self.model, landmarks, camera=self.camera,
                        lambda_shape=self.lambda_shape, lambda_expr=self.lambda_expr, **kw)
        if self.max_rmse is not None:
            err = float(np.mean([f.rmse for f in fits]))
            if err > self.max_rmse:
                raise ValueError(f'3DMM fit error {err:.2f}px exceeds max_rmse={self.max_rmse}')
        return fits

    def __call__(self,
                 frames: np.ndarray,
                 landmarks: np.ndarray,
                 yaw: float,
                 pitch: Optional[float] = None,
                 relative: bool = False) -> Tuple[np.ndarray, np.ndarray]:
        """Rotate a clip.

        Args:
            frames: ``(T, H, W)`` or ``(T, H, W, C)`` frames.
            landmarks: ``(T, L, 2)`` per-frame landmarks.
            yaw: Target yaw in degrees (absolute, or added to the fitted one if ``relative``).
            pitch: Target pitch (None = keep the fitted pitch).
            relative: Interpret ``yaw``/``pitch`` as offsets.

        Returns:
            ``(frames, landmarks)`` of the rotated clip (same shapes and dtype).
        """
        if len(frames) != len(landmarks):
            raise ValueError(f'{len(frames)} frames but {len(landmarks)} landmark sets')
        fits = self.fit(frames, landmarks)
        out = np.empty_like(frames)
        out_lmk = np.empty((len(frames), len(self.model.landmarks), 2))
        m = self.model
        for t, (frame, f) in enumerate(zip(frames, fits)):
            verts = m.vertices(f.shape, f.expr)
            src_uv, src_depth = project(verts, f.pose)
            new_yaw = f.pose.yaw + yaw if relative else yaw
            new_pitch = f.pose.pitch if pitch is None else (f.pose.pitch + pitch
                                                             if relative else pitch)
            new_pose = f.pose.replace(yaw=new_yaw, pitch=new_pitch)
            uv, depth = project(verts, new_pose)
            img, mask = render_textured(uv, depth, m.triangles, src_uv, frame)
            if self.fill_uncovered == 'inpaint' and frame.dtype == np.uint8:
                src_mask = rasterize(src_uv, src_depth, m.triangles, *frame.shape[:2])[0] >= 0
                hole = src_mask & ~mask
                if hole.any():
                    hole = cv2.dilate(hole.astype(np.uint8), np.ones((3, 3), np.uint8)) & \
                        ~mask
                    img = cv2.inpaint(img, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)
            out[t] = img
            out_lmk[t] = uv[m.landmarks]
        return out, out_lmk
