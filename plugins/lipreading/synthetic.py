"""Embedded word-recognition set: rendered talking-mouth clips in the LRW layout.

Each "word" is a pattern of mouth motions (jaw opening, lip stretching, lip rounding, upper-lip
raising): a few timed events on the expression coefficients of the project's toy 3DMM
(:func:`.morphable_model.generate_toy_model`). A clip samples a random identity, timing and
amplitude jitter, lighting, background, small head motion and a head pose, and renders 29 grey
64x64 face frames through :mod:`.renderer`. Training and validation clips are near-frontal
(``train_yaw``); test clips spread over ``|yaw| <= test_yaw`` so accuracy can be read per yaw bin.

Output (the LRW layout read by :class:`.dataset.LRWDataset`)::

    out_dir/WORD/{train,val,test}/WORD_00001.npz   # frames (29, 64, 64) uint8,
                                                   # landmarks (29, 68, 2) float32, yaw, pitch
    out_dir/meta.json
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Dict, Sequence, Tuple

import numpy as np

from ..datasets.generators import DATA_GENERATORS
from .camera import Pose, project
from .head_model import (generate_independent_head_model, match_expression_amplitudes,
                         render_clip_independent)
from .morphable_model import MorphableModel, generate_toy_model
from .renderer import render_colors, vertex_normals

TEST_HEADS = ('toy', 'independent', 'independent_raw')

__all__ = ['TEST_HEADS', 'WORD_PATTERNS', 'word_expressions', 'render_clip',
           'generate_lrw_synthetic']

#: word -> events ``(channel, centre in [0, 1], amplitude)``; channels: 0 jaw open,
#: 1 lip stretch, 2 pucker, 3 upper-lip raise.
WORD_PATTERNS: Dict[str, Sequence[Tuple[int, float, float]]] = {
    'ABOUT': [(0, 0.35, 1.0), (2, 0.7, 1.0)],
    'BETWEEN': [(1, 0.3, 1.0), (0, 0.5, 0.4), (1, 0.72, 1.0)],
    'MONEY': [(0, 0.5, 0.9), (1, 0.75, 0.9)],
    'PEOPLE': [(2, 0.3, 1.0), (0, 0.5, 0.4), (2, 0.7, 1.0)],
    'WORLD': [(2, 0.35, 1.0), (0, 0.68, 0.9)],
    'THINK': [(1, 0.35, 1.0), (3, 0.6, 1.0), (0, 0.62, 0.5)],
}


def word_expressions(word: str, num_frames: int, rng: np.random.Generator,
                     num_expr: int = 4) -> np.ndarray:
    """Expression coefficients ``(T, Ke)`` of one utterance of ``word`` with random jitter."""
    if word not in WORD_PATTERNS:
        raise KeyError(f'unknown word {word!r}; known: {sorted(WORD_PATTERNS)}')
    t = np.linspace(0, 1, num_frames)
    shift, speed = rng.uniform(-0.06, 0.06), rng.uniform(0.85, 1.15)
    e = np.zeros((num_frames, num_expr))
    for ch, c, a in WORD_PATTERNS[word]:
        centre = 0.5 + (c - 0.5) * speed + shift + rng.normal(0, 0.02)
        width = 0.08 * speed * rng.uniform(0.8, 1.2)
        e[:, ch] += a * rng.uniform(0.7, 1.2) * np.exp(-0.5 * ((t - centre) / width)**2)
    e += rng.normal(0, 0.04, e.shape)                        # articulation noise
    return e


def render_clip(model: MorphableModel, expr: np.ndarray, shape: np.ndarray, yaw: float,
                pitch: float, rng: np.random.Generator,
                size: int = 64) -> Tuple[np.ndarray, np.ndarray]:
    """Render ``(T, size, size)`` uint8 frames and ``(T, L, 2)`` landmarks of one clip."""
    num = len(expr)
    scale = size * rng.uniform(0.33, 0.38)
    centre = np.array([size / 2, size * 0.55]) + rng.uniform(-2, 2, 2)
    roll = rng.uniform(-5, 5)
    light = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.2, 0.5), 1.0])
    light /= np.linalg.norm(light)
    amb, gain = rng.uniform(0.35, 0.55), rng.uniform(0.8, 1.2)
    bg = np.full((size, size), rng.uniform(0.2, 0.8))
    yy, xx = np.mgrid[:size, :size] / size
    bg += 0.1 * np.sin(2 * np.pi * (rng.uniform(0.5, 2) * xx + rng.uniform(0, 1))) * \
        np.cos(2 * np.pi * rng.uniform(0.5, 2) * yy)
    phase = rng.uniform(0, 2 * np.pi, 3)
    frames = np.empty((num, size, size), dtype=np.uint8)
    lmks = np.empty((num, len(model.landmarks), 2), dtype=np.float32)
    for i in range(num):
        wob = 1.5 * np.sin(2 * np.pi * i / num + phase)
        pose = Pose(yaw=yaw + wob[0], pitch=pitch + wob[1], roll=roll + 0.5 * wob[2],
                    scale=scale, t=centre)
        v = model.vertices(shape, expr[i])
        uv, depth = project(v, pose)
        n = vertex_normals(v @ pose.rotation.T, model.triangles)
        shade = amb + (1 - amb) * np.clip(n @ light, 0, 1)
        img, _ = render_colors(uv, depth, model.triangles, gain * model.colors * shade, size,
                               size, background=bg)
        img += rng.normal(0, 0.015, img.shape)
        frames[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
        lmks[i] = uv[model.landmarks] + rng.normal(0, 0.3, (len(model.landmarks), 2))
    return frames, lmks


@DATA_GENERATORS.register_module(name='lrw_synthetic')
def generate_lrw_synthetic(out_dir: str,
                           *,
                           seed: int = 0,
                           words: Sequence[str] = tuple(WORD_PATTERNS),
                           num_train: int = 60,
                           num_val: int = 6,
                           num_test: int = 40,
                           num_frames: int = 29,
                           size: int = 64,
                           train_yaw: float = 5.0,
                           test_yaw: float = 60.0,
                           test_head: str = 'toy') -> dict:
    """Write the embedded talking-mouth word set (see the module docstring).

    Args:
        out_dir: Output root.
        seed: Random seed (the output is a deterministic function of the arguments).
        words: Subset of :data:`WORD_PATTERNS`.
        num_train, num_val, num_test: Clips per word and split.
        num_frames: Frames per clip (LRW: 29).
        size: Frame side in pixels.
        train_yaw: Train/val yaw drawn from ``U(-train_yaw, train_yaw)`` degrees.
        test_yaw: Test ``|yaw|`` drawn from ``U(0, test_yaw)`` with a random sign.
        test_head: ``'toy'``: test clips come from the same toy model and renderer as the
            training clips; ``'independent'``: from the independently built head model and
            renderer settings of :mod:`.head_model`, which neither training nor the pose
            augmentation uses, with its expression amplitudes matched to the toy model's
            (:func:`.head_model.match_expression_amplitudes`: the same word moves the lips as
            far, relative to the face); ``'independent_raw'``: the same without that matching
            (its lips move 1-3x further).

    Returns:
        Summary dict (root, words, counts per split).
    """
    unknown = [w for w in words if w not in WORD_PATTERNS]
    if unknown:
        raise KeyError(f'unknown words {unknown}; known: {sorted(WORD_PATTERNS)}')
    if test_head not in TEST_HEADS:
        raise ValueError(f'test_head must be one of {TEST_HEADS}, got {test_head!r}')
    rng = np.random.default_rng(seed)
    model = generate_toy_model()
    test_model = {'toy': lambda: model,
                  'independent': lambda: match_expression_amplitudes(
                      generate_independent_head_model(), model),
                  'independent_raw': generate_independent_head_model}[test_head]()
    counts = {'train': num_train, 'val': num_val, 'test': num_test}
    for word in words:
        for split, n in counts.items():
            d = osp.join(out_dir, word, split)
            os.makedirs(d, exist_ok=True)
            for k in range(n):
                if split == 'test':
                    yaw = rng.uniform(0, test_yaw) * rng.choice([-1, 1])
                else:
                    yaw = rng.uniform(-train_yaw, train_yaw)
                pitch = rng.uniform(-5, 5)
                if split == 'test' and test_head != 'toy':
                    shape = rng.normal(0, 1.0, test_model.num_shape)
                    expr = word_expressions(word, num_frames, rng, test_model.num_expr)
                    frames, lmks = render_clip_independent(test_model, expr, shape, yaw, pitch,
                                                           rng, size)
                else:
                    shape = rng.normal(0, 0.8, model.num_shape)
                    expr = word_expressions(word, num_frames, rng, model.num_expr)
                    frames, lmks = render_clip(model, expr, shape, yaw, pitch, rng, size)
                np.savez_compressed(osp.join(d, f'{word}_{k + 1:05d}.npz'), frames=frames,
                                    landmarks=lmks, yaw=np.float32(yaw),
                                    pitch=np.float32(pitch))
    meta = dict(root=out_dir, words=list(words), counts=counts, num_frames=num_frames,
                size=size, seed=seed, train_yaw=train_yaw, test_yaw=test_yaw,
                test_head=test_head)
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta
