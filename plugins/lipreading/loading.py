"""Reading LRW clips (mp4 via OpenCV or ``.npz`` arrays) and their landmarks."""
from __future__ import annotations

import os.path as osp
from typing import Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS

__all__ = ['ClipTooShortError', 'read_clip', 'LoadLRWClip', 'LANDMARK_SUFFIX']

LANDMARK_SUFFIX = '_landmarks.npy'


class ClipTooShortError(ValueError):
    """A clip has fewer frames than the model needs."""


def read_video(path: str) -> np.ndarray:
    """All frames of a video as ``(T, H, W)`` grey uint8 (OpenCV)."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise IOError(f'cannot open video {path!r} with OpenCV')
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame)
    cap.release()
    if not frames:
        raise IOError(f'video {path!r} has no readable frames')
    return np.stack(frames)


def read_clip(path: str) -> Tuple[np.ndarray, Optional[np.ndarray], dict]:
    """Read one clip.

    Args:
        path: ``.mp4`` (with optional ``<stem>_landmarks.npy``) or ``.npz`` (``frames``,
            optional ``landmarks``, ``yaw``, ``pitch``).

    Returns:
        ``(frames (T, H, W) uint8 grey, landmarks (T, L, 2) or None, extra dict)``.
    """
    ext = osp.splitext(path)[1].lower()
    extra = {}
    if ext == '.npz':
        with np.load(path) as f:
            if 'frames' not in f:
                raise KeyError(f'{path!r} has no "frames" array (keys: {f.files})')
            frames = f['frames']
            lmk = f['landmarks'] if 'landmarks' in f else None
            for k in ('yaw', 'pitch'):
                if k in f:
                    extra[k] = float(f[k])
    elif ext in ('.mp4', '.avi', '.mov'):
        frames = read_video(path)
        side = osp.splitext(path)[0] + LANDMARK_SUFFIX
        lmk = np.load(side) if osp.isfile(side) else None
    else:
        raise ValueError(f'unsupported clip file {path!r}; expected .npz or .mp4')
    if frames.ndim == 4:
        frames = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames])
    if frames.ndim != 3:
        raise ValueError(f'{path!r}: frames must be (T, H, W[, 3]), got {frames.shape}')
    if lmk is not None and (lmk.ndim != 3 or lmk.shape[0] != len(frames) or lmk.shape[2] != 2):
        raise ValueError(f'{path!r}: landmarks must be (T={len(frames)}, L, 2), got {lmk.shape}')
    return frames, lmk, extra


@TRANSFORMS.register_module()
class LoadLRWClip(BaseTransform):
    """Load ``results['clip_path']`` and take ``num_frames`` centred frames.

    Adds ``frames (T, H, W)`` uint8, ``landmarks (T, L, 2)`` float32 or None, ``yaw``/``pitch``
    (degrees, NaN when unknown).

    Args:
        num_frames: Frames the model needs (LRW: 29). Longer clips are centre-cut.
        require_landmarks: Raise when a clip has no landmarks.
    """

    def __init__(self, num_frames: int = 29, require_landmarks: bool = False) -> None:
        self.num_frames = num_frames
        self.require_landmarks = require_landmarks

    def transform(self, results: dict) -> dict:
        path = results['clip_path']
        frames, lmk, extra = read_clip(path)
        if len(frames) < self.num_frames:
            raise ClipTooShortError(f'{path!r} has {len(frames)} frames; the model needs '
                                    f'num_frames={self.num_frames}')
        if lmk is None and self.require_landmarks:
            raise KeyError(f'{path!r} has no landmarks (expected a "landmarks" array in the '
                           f'.npz or a {LANDMARK_SUFFIX} file next to the video)')
        s = (len(frames) - self.num_frames) // 2
        results['frames'] = frames[s:s + self.num_frames]
        results['landmarks'] = None if lmk is None else \
            lmk[s:s + self.num_frames].astype(np.float32)
        results['yaw'] = extra.get('yaw', float('nan'))
        results['pitch'] = extra.get('pitch', float('nan'))
        return results
