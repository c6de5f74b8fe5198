"""Leeds Sports Pose (LSP) in MMPose: dataset class (MMPose's COCO-style json, or LSP's own
``joints.mat``) and PCK@0.2 normalised by the torso, the LSP protocol. MMPose 1.3 ships no LSP.

Joint order (LSP): 0 r_ankle, 1 r_knee, 2 r_hip, 3 l_hip, 4 l_knee, 5 l_ankle, 6 r_wrist,
7 r_elbow, 8 r_shoulder, 9 l_shoulder, 10 l_elbow, 11 l_wrist, 12 neck, 13 head_top.
"""
from __future__ import annotations

import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.evaluation.functional import keypoint_pck_accuracy
from mmpose.evaluation.metrics import PCKAccuracy
from mmpose.registry import DATASETS, METRICS

LSP_JOINTS = ('right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee', 'left_ankle',
              'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow',
              'left_wrist', 'neck', 'head_top')
_SWAP = {'right': 'left', 'left': 'right'}


def _swap(name: str) -> str:
    side, _, rest = name.partition('_')
    return f'{_SWAP[side]}_{rest}' if side in _SWAP else ''


LSP_METAINFO = dict(
    dataset_name='lsp',
    paper_info=dict(author='Johnson, Sam and Everingham, Mark',
                    title='Clustered Pose and Nonlinear Appearance Models for Human Pose '
                          'Estimation', container='BMVC', year='2010'),
    keypoint_info={
        i: dict(name=n, id=i, color=[255, 128, 0] if n.startswith('left') else
                [0, 255, 0] if n.startswith('right') else [51, 153, 255],
                type='lower' if i < 6 else 'upper', swap=_swap(n))
        for i, n in enumerate(LSP_JOINTS)},
    skeleton_info={
        i: dict(link=(LSP_JOINTS[a], LSP_JOINTS[b]), id=i, color=[51, 153, 255])
        for i, (a, b) in enumerate([(0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (9, 10),
                                    (10, 11), (2, 3), (8, 9), (12, 13), (8, 12), (9, 12),
                                    (2, 8), (3, 9)])},
    joint_weights=[1.5, 1.2, 1., 1., 1.2, 1.5, 1.5, 1.2, 1., 1., 1.2, 1.5, 1., 1.],
    sigmas=[0.089, 0.087, 0.107, 0.107, 0.087, 0.089, 0.062, 0.072, 0.079, 0.079, 0.072,
            0.062, 0.079, 0.079])


@DATASETS.register_module()
class LSPDataset(BaseCocoStyleDataset):
    """LSP / LSP-extended in MMPose's top-down format.

    ``ann_file`` is either a COCO-style json (MMPose's format, 14 keypoints per person) or
    LSP's ``joints.mat``: ``(3, 14, N)`` for LSP (third row = *occluded* flag) or
    ``(14, 3, N)`` for LSP-extended (third column = *visible* flag), with images
    ``im%04d.jpg`` (LSP) / ``im%05d.jpg`` (LSPET) under ``data_prefix['img']``. For ``.mat``,
    ``split='train'`` takes the first 1000 images of LSP and ``'test'`` the last 1000 (the
    standard split); ``'all'`` takes every image. The person box is the joints' box enlarged
    by ``bbox_padding``.
    """

    METAINFO: dict = LSP_METAINFO

    def __init__(self, *args, split: str = 'train', bbox_padding: float = 1.25,
                 **kwargs) -> None:
        if split not in ('train', 'test', 'all'):
            raise ValueError(f"unknown split {split!r}; allowed: ['train', 'test', 'all']")
        self.split, self.bbox_padding = split, bbox_padding
        super().__init__(*args, **kwargs)

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        if not self.ann_file.endswith('.mat'):
            return super()._load_annotations()
        from scipy.io import loadmat
        if not osp.exists(self.ann_file):
            raise FileNotFoundError(f'LSP annotation file {self.ann_file!r} does not exist')
        joints = loadmat(self.ann_file)['joints']
        if joints.shape[:2] == (3, 14):  # LSP: (3, 14, N), occluded flag
            xy, vis, fmt = joints[:2].transpose(2, 1, 0), 1 - joints[2].T, 'im{:04d}.jpg'
        elif joints.shape[:2] == (14, 3):  # LSPET: (14, 3, N), visible flag
            xy, vis, fmt = joints[:, :2].transpose(2, 0, 1), joints[:, 2].T, 'im{:05d}.jpg'
        else:
            raise ValueError(f'{self.ann_file!r}: joints of shape {joints.shape}, expected '
                             f'(3, 14, N) (LSP) or (14, 3, N) (LSP-extended)')
        n = len(xy)
        ids = range(n)
        if self.split != 'all' and n == 2000:
            ids = range(1000) if self.split == 'train' else range(1000, 2000)
        instances, images = [], []
        for i in ids:
            kp = xy[i].astype(np.float32)
            v = (vis[i] > 0).astype(np.float32)
            lo, hi = kp.min(0), kp.max(0)
            c, s = (lo + hi) / 2, (hi - lo) * self.bbox_padding
            img = osp.join(self.data_prefix['img'], fmt.format(i + 1))
            instances.append(dict(
                id=i, img_id=i, img_path=img,
                bbox=np.array([[*(c - s / 2), *(c + s / 2)]], np.float32),
                bbox_score=np.ones(1, np.float32), num_keypoints=int(v.sum()),
                keypoints=kp[None], keypoints_visible=v[None], iscrowd=0,
                segmentation=None))
            images.append(dict(img_id=i, img_path=img))
        return instances, images


@METRICS.register_module()
class TorsoPCKAccuracy(PCKAccuracy):
    """PCK normalised by the torso length (LSP protocol: PCK@0.2).

    Args:
        thr: threshold as a fraction of the torso length (LSP: 0.2).
        torso_pair: keypoint indices whose distance is the torso length
            (LSP: right shoulder 8 -- left hip 3).

    Returns (evaluate): ``{'PCK': percent-free fraction as MMPose's PCKAccuracy}``.
    """

    def __init__(self, thr: float = 0.2, torso_pair: Sequence[int] = (8, 3),
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(thr=thr, norm_item='bbox', collect_device=collect_device,
                         prefix=prefix)
        self.torso_pair = tuple(torso_pair)

    def process(self, data_batch, data_samples) -> None:
        a, b = self.torso_pair
        for s in data_samples:
            gt = s['gt_instances']
            gt_coords = gt['keypoints']
            mask = np.asarray(gt['keypoints_visible']).astype(bool).reshape(1, -1)
            torso = float(np.linalg.norm(gt_coords[0][a] - gt_coords[0][b]))
            if torso < 1:  # degenerate torso: fall back to the box size
                box = gt['bboxes'][0]
                torso = float(max(box[2] - box[0], box[3] - box[1]))
            self.results.append(dict(pred_coords=s['pred_instances']['keypoints'],
                                     gt_coords=gt_coords, mask=mask,
                                     torso_size=np.array([[torso, torso]])))

    def compute_metrics(self, results: list) -> dict:
        pred = np.concatenate([r['pred_coords'] for r in results])
        gt = np.concatenate([r['gt_coords'] for r in results])
        mask = np.concatenate([r['mask'] for r in results])
        norm = np.concatenate([r['torso_size'] for r in results])
        _, pck, _ = keypoint_pck_accuracy(pred, gt, mask, self.thr, norm)
        return {'PCK': float(pck)}
