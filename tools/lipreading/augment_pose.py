"""Offline 3DMM pose augmentation of an LRW-layout data set (skips and lists bad clips).

Example::

    python tools/lipreading/augment_pose.py data/lrw_synthetic data/lrw_synthetic_pose \
        --split train --copies 1 --yaw 15 60

Clips need per-frame landmarks (``.npz`` ``landmarks`` or ``<stem>_landmarks.npy`` next to the
mp4). ``--model`` takes a morphable-model file (.npz/.h5, see plugins/lipreading/morphable_model.py);
the default is the project's toy model. Bad clips go to ``OUT/bad_clips.txt``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import plugins  # noqa: E402,F401
from plugins.lipreading.offline_augment import augment_folder  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('src', help='LRW-layout root')
    p.add_argument('out', help='output root (same layout)')
    p.add_argument('--split', default='train', choices=['train', 'val', 'test'])
    p.add_argument('--copies', type=int, default=1, help='rotated copies per clip')
    p.add_argument('--yaw', type=float, nargs=2, default=(15.0, 60.0), metavar=('MIN', 'MAX'),
                   help='|yaw| range in degrees (random sign)')
    p.add_argument('--pitch', type=float, nargs=2, default=None, metavar=('MIN', 'MAX'))
    p.add_argument('--min-frames', type=int, default=29)
    p.add_argument('--model', default='toy', help="'toy' or a morphable-model file")
    p.add_argument('--camera', default='orthographic', choices=['orthographic', 'perspective'])
    p.add_argument('--max-rmse', type=float, default=None,
                   help='skip clips whose landmark fit error (px) exceeds this')
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(argv)
    augment_folder(a.src, a.out, split=a.split, copies=a.copies, yaw_range=tuple(a.yaw),
                   pitch_range=None if a.pitch is None else tuple(a.pitch),
                   min_frames=a.min_frames, morphable_model=a.model, camera=a.camera,
                   max_rmse=a.max_rmse, seed=a.seed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
