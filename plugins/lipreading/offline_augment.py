"""Offline 3DMM pose augmentation of an LRW-layout folder (used by tools/lipreading/augment_pose.py).

Every clip of ``src/WORD/split`` is rotated to ``copies`` sampled yaws and written as
``out/WORD/split/<stem>_pose<k>.npz`` (``frames``, ``landmarks``, ``yaw``, ``pitch``, ``source``).
A clip that cannot be processed (unreadable, too short, no landmarks, fitting failure) is skipped
and listed with its error in ``out/bad_clips.txt``; the run continues.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .dataset import CLIP_EXTS, read_word_list
from .fitting import LandmarkError
from .loading import ClipTooShortError, read_clip
from .pose_augment import PoseAugmenter

__all__ = ['augment_folder']


def augment_folder(src: str,
                   out: str,
                   split: str = 'train',
                   words: Optional[Sequence[str]] = None,
                   copies: int = 1,
                   yaw_range: Tuple[float, float] = (15.0, 60.0),
                   pitch_range: Optional[Tuple[float, float]] = None,
                   min_frames: int = 29,
                   morphable_model='toy',
                   camera: str = 'orthographic',
                   max_rmse: Optional[float] = None,
                   seed: int = 0,
                   log=print) -> Tuple[int, List[Tuple[str, str]]]:
    """Augment every clip of one split.

    Args:
        src: Source LRW root.
        out: Output root (same layout).
        split: Split to process.
        words: Vocabulary (default: all word folders of ``src``).
        copies: Rotated copies per clip.
        yaw_range: ``|yaw|`` range in degrees (random sign).
        pitch_range: Pitch range (None = keep the fitted pitch).
        min_frames: Clips shorter than this are listed as bad.
        morphable_model: ``'toy'`` or a model file (see :class:`.MorphableModel`).
        camera: ``'orthographic'`` or ``'perspective'``.
        max_rmse: Reject clips whose landmark fit error exceeds this many pixels.
        seed: Random seed.
        log: Progress printer.

    Returns:
        ``(number of clips written, [(clip path, error message), ...])``.
    """
    rng = np.random.default_rng(seed)
    aug = PoseAugmenter(morphable_model, camera=camera, max_rmse=max_rmse)
    written, bad = 0, []
    for word in read_word_list(words, src):
        files = sorted(f for ext in CLIP_EXTS
                       for f in glob.glob(osp.join(src, word, split, '*' + ext)))
        odir = osp.join(out, word, split)
        os.makedirs(odir, exist_ok=True)
        for path in files:
            try:
                frames, lmk, _ = read_clip(path)
                if len(frames) < min_frames:
                    raise ClipTooShortError(f'{len(frames)} frames < min_frames={min_frames}')
                if lmk is None:
                    raise LandmarkError('no landmarks')
                stem = osp.splitext(osp.basename(path))[0]
                for k in range(copies):
                    yaw = rng.uniform(*yaw_range) * rng.choice([-1, 1])
                    pitch = None if pitch_range is None else rng.uniform(*pitch_range)
                    f2, l2 = aug(frames, lmk, yaw=yaw, pitch=pitch)
                    np.savez_compressed(osp.join(odir, f'{stem}_pose{k}.npz'), frames=f2,
                                        landmarks=l2.astype(np.float32), yaw=np.float32(yaw),
                                        pitch=np.float32(np.nan if pitch is None else pitch),
                                        source=path)
                    written += 1
            except Exception as e:  # noqa: BLE001 - skip and list any bad clip
                bad.append((path, f'{type(e).__name__}: {e}'))
                log(f'skipping bad clip {path}: {type(e).__name__}: {e}')
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'bad_clips.txt'), 'w') as f:
        for p, msg in bad:
            f.write(f'{p}\t{msg}\n')
    log(f'wrote {written} augmented clips to {out}; {len(bad)} bad clips listed in '
        f'{osp.join(out, "bad_clips.txt")}')
    return written, bad
