"""Clip transforms for lip reading: mouth ROI, crops, flip, time masking, 3DMM pose, packing.

All operate on ``results['frames']`` ``(T, H, W)`` uint8 and keep ``results['landmarks']``
``(T, L, 2)`` (or None) consistent where it still matters.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS
from mmengine.structures import BaseDataElement

from .fitting import LandmarkError
from .pose_augment import PoseAugmenter

__all__ = ['MouthROICrop', 'RandomClipCrop', 'CenterClipCrop', 'ClipHorizontalFlip',
           'TimeMask', 'ClipPoseAugment', 'PackLipClip']


@TRANSFORMS.register_module()
class MouthROICrop(BaseTransform):
    """Crop a square mouth region of interest from landmarks (or a fixed box) and resize.

    The centre is the mean of the mouth landmarks over the clip (``per_frame=False``, steady
    crop) or per frame. The side is ``crop_size`` source pixels, or ``width_scale`` times the
    clip's mean mouth-corner distance when ``crop_size`` is None.

    Args:
        out_size: Output side in pixels.
        crop_size: Source side in pixels (None = from mouth width).
        width_scale: Side / mouth width when ``crop_size`` is None.
        mouth_indices: Landmark indices of the mouth (iBUG-68: 48..67).
        corner_indices: The two mouth-corner landmark indices (iBUG-68: 48, 54).
        per_frame: Track the mouth centre per frame.
        fallback_box: ``(x0, y0, x1, y1)`` used when a clip has no landmarks; None = error.
    """

    def __init__(self,
                 out_size: int = 32,
                 crop_size: Optional[float] = 32,
                 width_scale: float = 1.8,
                 mouth_indices: Sequence[int] = tuple(range(48, 68)),
                 corner_indices: Tuple[int, int] = (48, 54),
                 per_frame: bool = False,
                 fallback_box: Optional[Sequence[int]] = None) -> None:
        self.out_size = out_size
        self.crop_size = crop_size
        self.width_scale = width_scale
        self.mouth_indices = list(mouth_indices)
        self.corner_indices = tuple(corner_indices)
        self.per_frame = per_frame
        self.fallback_box = fallback_box

    def transform(self, results: dict) -> dict:
        frames, lmk = results['frames'], results.get('landmarks')
        if lmk is None:
            if self.fallback_box is None:
                raise LandmarkError(
                    f'{results.get("clip_path", "clip")}: no landmarks for mouth ROI cropping; '
                    f'provide landmarks or set MouthROICrop(fallback_box=(x0, y0, x1, y1))')
            x0, y0, x1, y1 = self.fallback_box
            crop = frames[:, y0:y1, x0:x1]
            results['frames'] = np.stack([cv2.resize(f, (self.out_size, self.out_size),
                                                     interpolation=cv2.INTER_AREA)
                                          for f in crop])
            return results
        if lmk.shape[1] <= max(self.mouth_indices + list(self.corner_indices)):
            raise LandmarkError(f'mouth indices need more than {lmk.shape[1]} landmarks')
        if not np.all(np.isfinite(lmk)):
            raise LandmarkError(f'{results.get("clip_path", "clip")}: landmarks contain NaN')
        mouth = lmk[:, self.mouth_indices]
        centres = mouth.mean(1)
        if not self.per_frame:
            centres = np.repeat(centres.mean(0, keepdims=True), len(frames), 0)
        if self.crop_size is None:
            a, b = self.corner_indices
            side = self.width_scale * float(np.linalg.norm(lmk[:, a] - lmk[:, b], axis=-1).mean())
        else:
            side = float(self.crop_size)
        s = self.out_size / side
        out = np.empty((len(frames), self.out_size, self.out_size), dtype=frames.dtype)
        for t, (f, c) in enumerate(zip(frames, centres)):
            # affine map: source centre -> output centre, scale s (pixel centres at integers)
            m = np.array([[s, 0, (self.out_size - 1) / 2 - s * c[0]],
                          [0, s, (self.out_size - 1) / 2 - s * c[1]]])
            out[t] = cv2.warpAffine(f, m, (self.out_size, self.out_size),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        results['frames'] = out
        results['mouth_centre'] = centres
        return results


class ClipCrop(BaseTransform):
    """Crop the same ``size x size`` window from every frame of ``results['frames']``
    (``(T, H, W[, C])``); subclasses choose where the window's top-left corner is.

    Args:
        size: side of the square window, at most the frames' height and width.
    """

    def __init__(self, size: int) -> None:
        self.size = size

    def corner(self, h: int, w: int) -> tuple:
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        f = results['frames']
        h, w = f.shape[1:3]
        if h < self.size or w < self.size:
            raise ValueError(f'crop size {self.size} larger than frames {h}x{w}')
        y, x = self.corner(h, w)
        results['frames'] = f[:, y:y + self.size, x:x + self.size]
        return results


@TRANSFORMS.register_module()
class RandomClipCrop(ClipCrop):
    """Crop the same random ``size x size`` window from every frame (training)."""

    def corner(self, h: int, w: int) -> tuple:
        return np.random.randint(0, h - self.size + 1), np.random.randint(0, w - self.size + 1)


@TRANSFORMS.register_module()
class CenterClipCrop(ClipCrop):
    """Crop the central ``size x size`` window from every frame (testing)."""

    def corner(self, h: int, w: int) -> tuple:
        return (h - self.size) // 2, (w - self.size) // 2


@TRANSFORMS.register_module()
class ClipHorizontalFlip(BaseTransform):
    """Mirror the whole clip with probability ``prob`` (negates ``yaw``)."""

    def __init__(self, prob: float = 0.5) -> None:
        self.prob = prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            results['frames'] = np.ascontiguousarray(results['frames'][:, :, ::-1])
            if 'yaw' in results:
                results['yaw'] = -results['yaw']
        return results


@TRANSFORMS.register_module()
class TimeMask(BaseTransform):
    """Replace ``num_masks`` random spans of up to ``max_len`` frames by the clip mean."""

    def __init__(self, max_len: int = 5, num_masks: int = 1, prob: float = 1.0) -> None:
        self.max_len, self.num_masks, self.prob = max_len, num_masks, prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        f = results['frames'].copy()
        mean = f.mean(0).astype(f.dtype)
        for _ in range(self.num_masks):
            n = np.random.randint(0, self.max_len + 1)
            s = np.random.randint(0, max(len(f) - n, 0) + 1)
            f[s:s + n] = mean
        results['frames'] = f
        return results


@TRANSFORMS.register_module()
class ClipPoseAugment(BaseTransform):
    """Online 3DMM pose augmentation (apply before :class:`MouthROICrop`).

    With probability ``prob``, fits the morphable model to the clip's landmarks and re-renders
    the face at yaw ~ ``U(yaw_range)`` (random sign if ``symmetric``), pitch ~ ``U(pitch_range)``;
    updates frames, landmarks and ``yaw``. Costs ~0.3 s per 29-frame 64x64 clip on one core;
    the offline tool ``tools/lipreading/augment_pose.py`` is the cheaper way for big sets.

    Args:
        prob: Probability of augmenting a clip.
        yaw_range: ``(min, max)`` |yaw| in degrees.
        pitch_range: ``(min, max)`` pitch in degrees (None = keep the fitted pitch).
        symmetric: Random yaw sign.
        morphable_model: ``'toy'``, a file path, or a dict for :meth:`MorphableModel.load`.
        camera: Fitting/rendering camera.
    """

    def __init__(self,
                 prob: float = 0.5,
                 yaw_range: Tuple[float, float] = (0.0, 60.0),
                 pitch_range: Optional[Tuple[float, float]] = None,
                 symmetric: bool = True,
                 morphable_model='toy',
                 camera: str = 'orthographic') -> None:
        self.prob, self.yaw_range, self.pitch_range = prob, yaw_range, pitch_range
        self.symmetric = symmetric
        self.augmenter = PoseAugmenter(morphable_model, camera=camera)

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        lmk = results.get('landmarks')
        if lmk is None:
            raise LandmarkError(f'{results.get("clip_path", "clip")}: pose augmentation needs '
                                f'per-frame landmarks')
        yaw = np.random.uniform(*self.yaw_range)
        if self.symmetric and np.random.rand() < 0.5:
            yaw = -yaw
        pitch = None if self.pitch_range is None else np.random.uniform(*self.pitch_range)
        frames, new_lmk = self.augmenter(results['frames'], lmk, yaw=yaw, pitch=pitch)
        results['frames'], results['landmarks'] = frames, new_lmk.astype(np.float32)
        results['yaw'] = float(yaw)
        return results


@TRANSFORMS.register_module()
class PackLipClip(BaseTransform):
    """Pack ``inputs`` ``(1, T, H, W)`` uint8 tensor and a ``data_samples`` element.

    The data sample has ``gt_label`` (long tensor ``(1,)``) and metainfo ``yaw``, ``word``,
    ``clip_path``.
    """

    def transform(self, results: dict) -> dict:
        f = np.ascontiguousarray(results['frames'])
        sample = BaseDataElement(metainfo=dict(yaw=float(results.get('yaw', float('nan'))),
                                               word=results.get('word', ''),
                                               clip_path=results.get('clip_path', '')))
        sample.gt_label = torch.tensor([int(results.get('label', -1))])
        return dict(inputs=torch.from_numpy(f)[None], data_samples=sample)
