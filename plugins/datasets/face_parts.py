"""Facial part segmentation data: an image + label-mask folder format, its dataset class and
pipeline transforms, and the embedded generator ``face_parts_synthetic``.

Format (``data_root``)::

    images/<split>/<name>.png|jpg     RGB image
    masks/<split>/<name>.png          uint8 label map, same size, values in [0, num_classes)

The labels are :data:`FACE_PART_CLASSES`. The generator rasterises the parts from 68-point
(300W/iBUG) or 98-point (WFLW) landmarks: synthetic faces drawn from a landmark template with
random pose, shape, expression, colours and backgrounds, plus the real face-landmark samples
(``../shared/data/mmpose_tests/{300w,wflw}`` beside the repository) cropped into a separate ``real`` split.
This is the face-part experiment of "Hierarchical binary CNNs for landmark localization with
limited resources" in an embedded form.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmpose.registry import DATASETS, TRANSFORMS

from .generators import DATA_GENERATORS
from .sample_data import sample_data_root

FACE_PART_CLASSES = ('background', 'skin', 'right_brow', 'left_brow', 'right_eye',
                     'left_eye', 'nose', 'mouth')
# label pairs exchanged by a horizontal flip (subject's right <-> left)
FACE_PART_FLIP_PAIRS = ((2, 3), (4, 5))
IMG_EXTS = ('.png', '.jpg', '.jpeg', '.bmp')

# landmark index groups of each part (subject's right = image left in a frontal face)
PART_INDICES = {
    68: dict(contour=range(0, 17), right_brow=range(17, 22), left_brow=range(22, 27),
             nose=range(27, 36), right_eye=range(36, 42), left_eye=range(42, 48),
             mouth=range(48, 60)),
    98: dict(contour=range(0, 33), right_brow=range(33, 42), left_brow=range(42, 51),
             nose=range(51, 60), right_eye=range(60, 68), left_eye=range(68, 76),
             mouth=range(76, 88)),
}


def rasterise_parts(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Label map of the face parts defined by 68- or 98-point landmarks.

    Args:
        landmarks: ``(K, 2)`` pixel coordinates, ``K`` in (68, 98).
        height, width: size of the label map.

    Returns:
        ``(height, width)`` uint8 map with values indexing :data:`FACE_PART_CLASSES`.
    """
    k = len(landmarks)
    if k not in PART_INDICES:
        raise ValueError(f'rasterise_parts supports {sorted(PART_INDICES)} landmarks, got {k}')
    idx = PART_INDICES[k]
    pts = np.asarray(landmarks, np.float64)
    mask = np.zeros((height, width), np.uint8)
    lab = {n: i for i, n in enumerate(FACE_PART_CLASSES)}
    # skin: hull of the contour and of the brows lifted to the forehead
    brows = pts[list(idx['right_brow']) + list(idx['left_brow'])]
    face_h = pts[:, 1].max() - pts[:, 1].min()
    forehead = brows - np.array([0, 0.25 * face_h])
    hull = cv2.convexHull(np.concatenate([pts[list(idx['contour'])], forehead]).astype(
        np.float32)).astype(np.int32)
    cv2.fillPoly(mask, [hull], lab['skin'])

    def poly(name: str, thick: int = 0) -> None:
        p = pts[list(idx[name])]
        if thick:  # brows: a thick polyline through the points
            line = p if k == 68 else p[:5]
            cv2.polylines(mask, [np.round(line).astype(np.int32)], False, lab[name],
                          thickness=thick)
            if k == 98:
                cv2.fillPoly(mask, [cv2.convexHull(p.astype(np.float32)).astype(np.int32)],
                             lab[name])
        else:
            cv2.fillPoly(mask, [cv2.convexHull(p.astype(np.float32)).astype(np.int32)],
                         lab[name])

    scale = max(2, int(round(0.03 * face_h)))
    poly('nose')
    poly('right_brow', scale)
    poly('left_brow', scale)
    poly('right_eye')
    poly('left_eye')
    poly('mouth')
    return mask


# ----------------------------------------------------------------------------- dataset
@DATASETS.register_module()
class FacePartsDataset(BaseDataset):
    """Image + label-mask folders (see the module docstring).

    Args:
        data_root: root folder.
        data_prefix: ``dict(img='images/train', seg='masks/train')``.
        pipeline: transforms (``LoadImage``, ``LoadPartMask``, ..., ``PackSegInputs``).
        test_mode: evaluation split.

    Each item holds ``img_path``, ``seg_path`` and ``metainfo['classes']``.
    """

    METAINFO = dict(classes=FACE_PART_CLASSES, flip_pairs=FACE_PART_FLIP_PAIRS)

    def __init__(self, data_root: str = '', data_prefix: dict = dict(img='images/train',
                                                                      seg='masks/train'),
                 pipeline: Sequence = (), test_mode: bool = False, **kwargs) -> None:
        super().__init__(data_root=data_root, data_prefix=dict(data_prefix),
                         pipeline=list(pipeline), test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        img_dir, seg_dir = self.data_prefix.get('img', ''), self.data_prefix.get('seg', '')
        for what, d in (('image', img_dir), ('mask', seg_dir)):
            if not osp.isdir(d):
                raise FileNotFoundError(
                    f'FacePartsDataset: {what} folder {d!r} does not exist (data_root='
                    f'{self.data_root!r}); generate the embedded set with '
                    f'`python tools/generate_data.py face_parts_synthetic --out '
                    f'data/face_parts_embedded`')
        items = []
        for name in sorted(os.listdir(img_dir)):
            stem, ext = osp.splitext(name)
            if ext.lower() not in IMG_EXTS:
                continue
            seg = osp.join(seg_dir, stem + '.png')
            if not osp.exists(seg):
                raise FileNotFoundError(f'FacePartsDataset: no mask {seg!r} for image '
                                        f'{osp.join(img_dir, name)!r}')
            items.append(dict(img_path=osp.join(img_dir, name), seg_path=seg, id=len(items)))
        if not items:
            raise FileNotFoundError(f'FacePartsDataset: no images in {img_dir!r}')
        return items


# ----------------------------------------------------------------------------- transforms
@TRANSFORMS.register_module()
class LoadPartMask(BaseTransform):
    """Load ``results['seg_path']`` (uint8 label png) into ``results['gt_seg_map']`` (H, W)."""

    def transform(self, results: dict) -> dict:
        m = cv2.imread(results['seg_path'], cv2.IMREAD_UNCHANGED)
        if m is None:
            raise FileNotFoundError(f'cannot read mask {results["seg_path"]!r}')
        if m.ndim == 3:
            m = m[..., 0]
        img = results.get('img')
        if img is not None and img.shape[:2] != m.shape[:2]:
            raise ValueError(f'mask {results["seg_path"]!r} is {m.shape[:2]} but its image is '
                             f'{img.shape[:2]}')
        results['gt_seg_map'] = m
        return results


@TRANSFORMS.register_module()
class ResizeImageAndMask(BaseTransform):
    """Resize ``img`` (bilinear) and ``gt_seg_map`` (nearest) to ``size=(w, h)``."""

    def __init__(self, size: Sequence[int]) -> None:
        self.size = tuple(int(s) for s in size)

    def transform(self, results: dict) -> dict:
        results['ori_shape'] = results['img'].shape[:2]
        results['img'] = cv2.resize(results['img'], self.size, interpolation=cv2.INTER_LINEAR)
        if 'gt_seg_map' in results:
            results['gt_seg_map'] = cv2.resize(results['gt_seg_map'], self.size,
                                               interpolation=cv2.INTER_NEAREST)
        results['img_shape'] = results['img'].shape[:2]
        return results


@TRANSFORMS.register_module()
class RandomPartFlip(BaseTransform):
    """Horizontal flip of image and mask with probability ``prob``, swapping the labels of
    the left/right parts (``flip_pairs``)."""

    def __init__(self, prob: float = 0.5,
                 flip_pairs: Sequence[Sequence[int]] = FACE_PART_FLIP_PAIRS) -> None:
        self.prob, self.flip_pairs = prob, [tuple(p) for p in flip_pairs]

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
        m = results['gt_seg_map'][:, ::-1].copy()
        out = m.copy()
        for a, b in self.flip_pairs:
            out[m == a], out[m == b] = b, a
        results['gt_seg_map'] = out
        return results


@TRANSFORMS.register_module()
class PackSegInputs(BaseTransform):
    """Pack ``img`` (H, W, 3) -> ``inputs`` (3, H, W) uint8 tensor and a data sample with
    ``gt_sem_seg.data`` (1, H, W) long and the meta keys."""

    META = ('img_path', 'seg_path', 'ori_shape', 'img_shape', 'id')

    def transform(self, results: dict) -> dict:
        import torch
        from mmengine.structures import BaseDataElement, PixelData
        img = results['img']
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        sample = BaseDataElement(metainfo={k: results[k] for k in self.META if k in results})
        if 'gt_seg_map' in results:
            sample.gt_sem_seg = PixelData(
                data=torch.from_numpy(results['gt_seg_map'].astype(np.int64))[None])
        return dict(inputs=inputs, data_samples=sample)


# ----------------------------------------------------------------------------- generator
def _template_68() -> np.ndarray:
    """A frontal 68-point mean face in the unit square (from a symmetric parametric shape)."""
    t = np.linspace(np.pi * 0.05, np.pi * 0.95, 17)
    jaw = np.stack([0.5 - 0.42 * np.cos(t), 0.42 + 0.5 * np.sin(t) ** 0.9], 1)
    bx = np.linspace(0.14, 0.42, 5)
    rb = np.stack([bx, 0.30 - 0.05 * np.sin(np.linspace(0.2, 2.9, 5))], 1)
    lb = np.stack([1 - bx[::-1], rb[::-1, 1]], 1)
    nose = np.array([[0.5, 0.38], [0.5, 0.46], [0.5, 0.53], [0.5, 0.60],
                     [0.42, 0.65], [0.46, 0.67], [0.5, 0.68], [0.54, 0.67], [0.58, 0.65]])

    def eye(cx):
        a = np.linspace(0, 2 * np.pi, 7)[:-1]
        return np.stack([cx - 0.085 * np.cos(a), 0.41 - 0.035 * np.sin(a)], 1)
    mouth_a = np.linspace(0, 2 * np.pi, 13)[:-1]
    mouth = np.stack([0.5 - 0.16 * np.cos(mouth_a), 0.8 - 0.06 * np.sin(mouth_a)], 1)
    inner_a = np.linspace(0, 2 * np.pi, 9)[:-1]
    inner = np.stack([0.5 - 0.1 * np.cos(inner_a), 0.8 - 0.02 * np.sin(inner_a)], 1)
    return np.concatenate([jaw, rb, lb, nose, eye(0.3), eye(0.7), mouth, inner])


PART_COLOURS = {  # BGR base colours, jittered per image
    'right_brow': (40, 40, 60), 'left_brow': (40, 40, 60), 'right_eye': (235, 235, 235),
    'left_eye': (235, 235, 235), 'nose': None, 'mouth': (70, 60, 170)}


def _render_face(rng: np.random.Generator, size: int):
    pts = _template_68()
    pts += rng.normal(0, 0.008, pts.shape)  # identity / expression jitter
    pts[48:60, 1] += np.where(pts[48:60, 1] > 0.8, rng.uniform(0, 0.05), 0)  # open mouth
    face = rng.uniform(0.45, 0.8) * size
    ang = rng.uniform(-0.5, 0.5)
    squash = rng.uniform(0.75, 1.1)  # yaw-like horizontal squash
    c, s = np.cos(ang), np.sin(ang)
    p = (pts - 0.5) * np.array([squash, 1.0])
    p = p @ np.array([[c, s], [-s, c]]) * face + size / 2 + rng.uniform(-0.1, 0.1, 2) * size
    img = np.empty((size, size, 3), np.uint8)
    img[:] = rng.integers(0, 256, 3)
    noise = cv2.resize(rng.integers(0, 256, (8, 8, 3)).astype(np.uint8), (size, size))
    img = cv2.addWeighted(img, 0.5, noise, 0.5, 0)
    mask = rasterise_parts(p, size, size)
    skin = np.array([rng.integers(60, 200), rng.integers(90, 210), rng.integers(120, 240)])
    paint = {1: skin, 6: np.clip(skin * 0.85, 0, 255)}
    for i, name in enumerate(FACE_PART_CLASSES[2:], start=2):
        base = PART_COLOURS[name]
        if base is not None:
            paint[i] = np.clip(np.array(base) + rng.integers(-30, 31, 3), 0, 255)
    for label, colour in paint.items():
        img[mask == label] = colour.astype(np.uint8)
    # pupils, shading, blur and noise make the parts less trivially colour-coded
    for eye in (p[36:42], p[42:48]):
        cx, cy = eye.mean(0)
        cv2.circle(img, (int(cx), int(cy)), max(1, int(0.025 * face)), (30, 30, 30), -1)
    shade = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0), size)[None, :, None]
    img = np.clip(img * shade + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    img = cv2.GaussianBlur(img, (3, 3), 0)
    return img, mask


def _real_samples(src_root: str, size: int):
    """Crops of the real 68/98-point face samples with their rasterised part masks."""
    out = []
    for sub, ann in (('300w', 'test_300w.json'), ('wflw', 'test_wflw.json')):
        path = osp.join(src_root, sub, ann)
        if not osp.exists(path):
            continue
        data = json.load(open(path))
        files = {im['id']: im['file_name'] for im in data['images']}
        for a in data['annotations']:
            img = cv2.imread(osp.join(src_root, sub, files[a['image_id']]))
            if img is None:
                continue
            kp = np.asarray(a['keypoints'], np.float64).reshape(-1, 3)[:, :2]
            lo, hi = kp.min(0), kp.max(0)
            centre, side = (lo + hi) / 2, 1.5 * (hi - lo).max()
            src = np.float32([centre - side / 2, centre + [side / 2, -side / 2],
                              centre + [-side / 2, side / 2]])
            dst = np.float32([[0, 0], [size, 0], [0, size]])
            M = cv2.getAffineTransform(src, dst)
            crop = cv2.warpAffine(img, M, (size, size), flags=cv2.INTER_LINEAR)
            kp2 = kp @ M[:, :2].T + M[:, 2]
            out.append((f'{sub}_{a["id"]}', crop, rasterise_parts(kp2, size, size)))
    return out


@DATA_GENERATORS.register_module(name='face_parts_synthetic')
def generate_face_parts(out_dir: str, *, seed: int = 0, num_train: int = 600,
                        num_val: int = 100, img_size: int = 128,
                        real_root: Optional[str] = 'default') -> dict:
    """Face-part segmentation set: synthetic faces rasterised from landmarks (+ real crops).

    Writes ``images/{train,val,real}`` and ``masks/{train,val,real}`` under ``out_dir`` and
    ``classes.json``; ``real`` holds the 300W/WFLW sample faces with masks rasterised from
    their annotated landmarks. Deterministic for a seed.
    """
    if num_train < 1 or num_val < 1 or not 32 <= img_size <= 1024:
        raise ValueError(f'need num_train, num_val >= 1 and 32 <= img_size <= 1024, got '
                         f'{num_train}, {num_val}, {img_size}')
    rng = np.random.default_rng(seed)
    counts: Dict[str, int] = {}
    for split, n in (('train', num_train), ('val', num_val)):
        for d in ('images', 'masks'):
            os.makedirs(osp.join(out_dir, d, split), exist_ok=True)
        for i in range(n):
            img, mask = _render_face(rng, img_size)
            cv2.imwrite(osp.join(out_dir, 'images', split, f'{i:05d}.png'), img)
            cv2.imwrite(osp.join(out_dir, 'masks', split, f'{i:05d}.png'), mask)
        counts[split] = n
    if real_root == 'default':
        real_root = sample_data_root()
    real = _real_samples(real_root, img_size) if real_root and osp.isdir(real_root) else []
    if real:
        for d in ('images', 'masks'):
            os.makedirs(osp.join(out_dir, d, 'real'), exist_ok=True)
        for name, img, mask in real:
            cv2.imwrite(osp.join(out_dir, 'images', 'real', name + '.png'), img)
            cv2.imwrite(osp.join(out_dir, 'masks', 'real', name + '.png'), mask)
    counts['real'] = len(real)
    with open(osp.join(out_dir, 'classes.json'), 'w') as f:
        json.dump(dict(classes=FACE_PART_CLASSES, flip_pairs=FACE_PART_FLIP_PAIRS), f)
    return dict(out_dir=out_dir, img_size=img_size, seed=seed, **counts)
