"""MMPose's MPII annotation files: ``mpii_<split>.json`` and ``mpii_gt_val.mat``.

Conventions (as MPII and MMPose's converted files): coordinates are MATLAB 1-based
(pixel ``(col, row)`` 0-based has coordinates ``(col + 1, row + 1)``); ``scale`` is the person
box side / 200 px; joints outside the image are ``[-1, -1]`` with ``joints_vis`` 0; occluded
joints inside the image keep their position and ``joints_vis`` 1. ``MpiiDataset`` reads the
``.mat``'s ``headboxes_src`` (2 corners x (x, y) x N) and uses ``0.6 * ||x2y2 - x1y1||`` as head
size for PCKh.
"""
import io
import json
from typing import List, Sequence

import numpy as np
from scipy.io import savemat

from .scene import Sample

# Fixed text for the .mat header (scipy writes the creation time there: not reproducible).
MAT_HEADER = b'MATLAB 5.0 MAT-file, written by plugins.datasets.synthetic_pose (mpii_synthetic)'
# Joint names in MPII's evaluation file (``dataset_joints``), MPII order.
MAT_JOINT_NAMES = ('rank', 'rkne', 'rhip', 'lhip', 'lkne', 'lank', 'pelv', 'thor', 'neck',
                   'head', 'rwri', 'relb', 'rsho', 'lsho', 'lelb', 'lwri')


def mpii_record(sample: Sample, image: str) -> dict:
    """The MMPose MPII json entry of one sample.

    Args:
        sample: the rendered sample (0-based pixel coordinates).
        image: image file name relative to the image folder; its stem must be an integer
            (``MpiiDataset`` uses it as image id).

    Returns:
        ``{image, center, scale, joints, joints_vis}`` with 1-based coordinates.
    """
    joints = [[round(float(x) + 1, 3), round(float(y) + 1, 3)] if v else [-1.0, -1.0]
              for (x, y), v in zip(sample.joints, sample.visible)]
    return {
        'image': image,
        'center': [round(float(c) + 1, 3) for c in sample.centre],
        'scale': round(float(sample.box_size) / 200.0, 6),
        'joints': joints,
        'joints_vis': [int(v) for v in sample.visible],
    }


def write_json(path: str, records: List[dict]) -> None:
    """Write a list of MPII records as MMPose's MPII json."""
    with open(path, 'w') as f:
        json.dump(records, f)


def write_gt_mat(path: str, records: Sequence[dict], head_boxes: Sequence[np.ndarray]) -> None:
    """Write ``mpii_gt_val.mat`` in the layout of MPII's evaluation file.

    Args:
        path: output ``.mat`` path.
        records: the split's MPII records (same order as the json).
        head_boxes: per record, the 0-based head box ``x1, y1, x2, y2``.

    Writes ``headboxes_src`` ``(2, 2, N)``, ``pos_gt_src`` ``(16, 2, N)``, ``jnt_missing``
    ``(16, N)`` and ``dataset_joints`` ``(1, 16)`` cell of names, all 1-based.
    """
    if len(records) != len(head_boxes):
        raise ValueError(f'{len(records)} records but {len(head_boxes)} head boxes')
    n = len(records)
    boxes = np.asarray(head_boxes, dtype=np.float64).reshape(n, 2, 2) + 1.0  # (N, corner, xy)
    joints = np.asarray([r['joints'] for r in records], dtype=np.float64).reshape(n, 16, 2)
    missing = 1 - np.asarray([r['joints_vis'] for r in records], dtype=np.float64).reshape(n, 16)
    names = np.empty((1, len(MAT_JOINT_NAMES)), dtype=object)
    names[0, :] = MAT_JOINT_NAMES
    buf = io.BytesIO()
    savemat(buf, {
        'headboxes_src': np.transpose(boxes, (1, 2, 0)),
        'pos_gt_src': np.transpose(joints, (1, 2, 0)),
        'jnt_missing': missing.T,
        'dataset_joints': names,
    })
    data = bytearray(buf.getvalue())
    data[:116] = MAT_HEADER.ljust(116)  # the 116-byte description field of the MAT 5 header
    with open(path, 'wb') as f:
        f.write(bytes(data))
