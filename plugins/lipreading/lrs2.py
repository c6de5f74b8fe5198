"""Cut LRW-style word clips out of LRS2 sentence videos using their word alignments.

LRS2 layout (``main/`` or ``pretrain/``)::

    lrs2_root/5535415699068794046/00001.mp4   # 25 fps sentence video (160x160 face crops)
    lrs2_root/5535415699068794046/00001.txt   # "Text: ...", "Conf: ...", blank line,
                                               # "WORD START END ASDSCORE" (seconds) per word
    lrs2_root/5535415699068794046/00001_landmarks.npy   # optional (T, L, 2)

For every aligned word that is in the vocabulary, a ``num_frames`` window centred on the word
(the LRW convention: the word in the middle of a fixed 1.16 s clip) is written as
``out_root/WORD/test/<speaker>_<clip>_<k>.npz`` (``frames``, optional ``landmarks``), so an
LRW-trained model can be evaluated on the words LRS2 and LRW share with
:class:`.dataset.LRWDataset` (``words=`` the model's vocabulary).
"""
from __future__ import annotations

import glob
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .loading import LANDMARK_SUFFIX, read_video

__all__ = ['parse_lrs2_alignment', 'cut_lrs2_words']


def parse_lrs2_alignment(path: str) -> List[Tuple[str, float, float]]:
    """Word alignments ``[(WORD, start_s, end_s), ...]`` from an LRS2 ``.txt`` file.

    Raises:
        ValueError: the file has no ``WORD START END`` table.
    """
    with open(path) as f:
        lines = [ln.strip() for ln in f]
    try:
        start = next(i for i, ln in enumerate(lines) if ln.upper().startswith('WORD'))
    except StopIteration:
        raise ValueError(f'{path!r}: no "WORD START END ASDSCORE" table (word alignments are '
                         f'in the LRS2 pretrain/main .txt files)') from None
    out = []
    for ln in lines[start + 1:]:
        parts = ln.split()
        if len(parts) < 3:
            continue
        out.append((parts[0].upper(), float(parts[1]), float(parts[2])))
    return out


def cut_lrs2_words(lrs2_root: str,
                   out_root: str,
                   vocabulary: Sequence[str],
                   num_frames: int = 29,
                   fps: float = 25.0,
                   frame_size: Optional[int] = None,
                   log=print) -> Tuple[Dict[str, int], List[Tuple[str, str]]]:
    """Cut vocabulary words out of every LRS2 video under ``lrs2_root``.

    Args:
        lrs2_root: Folder searched recursively for ``*.mp4`` with a sibling ``.txt``.
        out_root: LRW-layout output root (split ``test``).
        vocabulary: Words to keep (e.g. the LRW model's 500 words).
        num_frames: Clip length (LRW: 29).
        fps: Video frame rate (LRS2: 25).
        frame_size: Resize frames to this square side (e.g. 256 to match LRW's mouth box).
        log: Progress printer.

    Returns:
        ``({word: clips written}, [(video, reason) skipped])``.
    """
    vocab = {w.upper() for w in vocabulary}
    counts: Dict[str, int] = {}
    skipped: List[Tuple[str, str]] = []
    for video in sorted(glob.glob(osp.join(lrs2_root, '**', '*.mp4'), recursive=True)):
        txt = osp.splitext(video)[0] + '.txt'
        try:
            words = parse_lrs2_alignment(txt)
            wanted = [(k, w, s, e) for k, (w, s, e) in enumerate(words) if w in vocab]
            if not wanted:
                continue
            frames = read_video(video)
            side = osp.splitext(video)[0] + LANDMARK_SUFFIX
            lmk = np.load(side) if osp.isfile(side) else None
        except Exception as e:  # noqa: BLE001 - list and continue
            skipped.append((video, f'{type(e).__name__}: {e}'))
            continue
        rel = osp.relpath(osp.splitext(video)[0], lrs2_root).replace(os.sep, '_')
        for k, word, s, e in wanted:
            centre = int(round((s + e) / 2 * fps))
            a = centre - num_frames // 2
            if a < 0 or a + num_frames > len(frames):
                skipped.append((video, f'{word} at {s:.2f}-{e:.2f}s: {num_frames}-frame window '
                                       f'outside the {len(frames)}-frame video'))
                continue
            clip = frames[a:a + num_frames]
            lm = None if lmk is None else lmk[a:a + num_frames].astype(np.float32)
            if frame_size is not None and clip.shape[1:] != (frame_size, frame_size):
                sx, sy = frame_size / clip.shape[2], frame_size / clip.shape[1]
                clip = np.stack([cv2.resize(f, (frame_size, frame_size)) for f in clip])
                if lm is not None:
                    lm = lm * np.array([sx, sy], dtype=np.float32)
            d = osp.join(out_root, word, 'test')
            os.makedirs(d, exist_ok=True)
            arrays = dict(frames=clip)
            if lm is not None:
                arrays['landmarks'] = lm
            np.savez_compressed(osp.join(d, f'{rel}_{k}.npz'), **arrays)
            counts[word] = counts.get(word, 0) + 1
    log(f'cut {sum(counts.values())} clips of {len(counts)} shared words into {out_root}; '
        f'skipped {len(skipped)}')
    return counts, skipped
