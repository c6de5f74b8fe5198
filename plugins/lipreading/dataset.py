"""LRW (Lip Reading in the Wild) word-clip dataset in its standard folder layout.

Layout (the official LRW release, plus pre-extracted arrays)::

    data_root/ABOUT/train/ABOUT_00001.mp4      # 29-frame face video (read with OpenCV)
    data_root/ABOUT/train/ABOUT_00001.txt      # LRW metadata (ignored)
    data_root/ABOUT/train/ABOUT_00001_landmarks.npy   # optional (T, L, 2) landmarks
    data_root/ABOUT/test/ABOUT_00001.npz       # or arrays: frames (T, H, W[, 3]) uint8,
                                               # optional landmarks (T, L, 2), yaw, pitch

Word labels are the indices of the word folders in sorted order (or of ``words``). Loading,
cropping and augmentation are pipeline transforms (:mod:`.transforms`); an item entering the
pipeline is ``dict(clip_path, label, word)``.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset
from mmengine.registry import DATASETS

__all__ = ['LRWDataset', 'CLIP_EXTS', 'read_word_list']

CLIP_EXTS = ('.npz', '.mp4')
SPLITS = ('train', 'val', 'test')


def read_word_list(words: Union[None, str, Sequence[str]], data_root: str) -> List[str]:
    """Words from a list, a text file (one per line) or the sorted sub-folders of the root."""
    if words is None:
        if not osp.isdir(data_root):
            raise FileNotFoundError(f'LRW data_root does not exist: {data_root!r}')
        return sorted(d for d in os.listdir(data_root)
                      if osp.isdir(osp.join(data_root, d)))
    if isinstance(words, str):
        with open(words) as f:
            return [w.strip() for w in f if w.strip()]
    return list(words)


@DATASETS.register_module()
class LRWDataset(BaseDataset):
    """LRW word clips (mp4 videos or ``.npz`` mouth/face arrays) of one split.

    Args:
        data_root: Root with one folder per word.
        split: ``'train'``, ``'val'`` or ``'test'``.
        words: Vocabulary (list or word-list file); default: sorted word folders. Folders of
            words outside it are ignored (e.g. evaluating on a shared subset).
        max_per_word: Keep at most this many clips per word (None = all).
        pipeline: Transforms, normally starting with ``LoadLRWClip``.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 words: Union[None, str, Sequence[str]] = None,
                 max_per_word: Optional[int] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        self.split = split
        self.words = read_word_list(words, data_root)
        if not self.words:
            raise ValueError(f'no word folders found under {data_root!r}')
        self.max_per_word = max_per_word
        kwargs.setdefault('serialize_data', False)
        super().__init__(data_root=data_root, pipeline=list(pipeline),
                         metainfo=dict(classes=tuple(self.words)), **kwargs)

    def load_data_list(self) -> List[dict]:
        items = []
        for label, word in enumerate(self.words):
            d = osp.join(self.data_root, word, self.split)
            files = sorted(f for ext in CLIP_EXTS for f in glob.glob(osp.join(d, '*' + ext)))
            if self.max_per_word is not None:
                files = files[:self.max_per_word]
            items += [dict(clip_path=f, label=label, word=word) for f in files]
        if not items:
            raise FileNotFoundError(
                f'no clips ({"/".join(CLIP_EXTS)}) found in {self.data_root}/<WORD>/{self.split}/ '
                f'for words {self.words[:5]}...')
        return items
