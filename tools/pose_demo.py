"""Top-down pose inference on images with person boxes, saving the visualisations.

    python tools/pose_demo.py CONFIG CHECKPOINT [--images DIR] [--ann JSON] [--out-dir DIR]

Defaults run on the real MPII sample images (``/work/shared/data/mmpose_tests/mpii``) with the
person boxes of their MPII annotation (centre, scale * 200 * 1.25, as MpiiDataset); the
keypoints are printed as json and drawn into ``<out-dir>/<image>`` with MMPose's visualiser.
``CHECKPOINT`` may be ``none`` (random weights: checks the path, not the accuracy).
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402

import plugins  # noqa: E402,F401

MPII = '/work/shared/data/mmpose_tests/mpii'


def mpii_boxes(ann_file: str) -> dict:
    """``{image: [(x1, y1, x2, y2), ...]}`` from an MMPose MPII json."""
    boxes: dict = {}
    for a in json.load(open(ann_file)):
        (cx, cy), half = a['center'], a['scale'] * 200 * 1.25 / 2
        boxes.setdefault(a['image'], []).append([cx - half, cy - half, cx + half, cy + half])
    return boxes


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint', help="checkpoint file or 'none'")
    p.add_argument('--images', default=MPII)
    p.add_argument('--ann', default=osp.join(MPII, 'test_mpii.json'))
    p.add_argument('--out-dir', default='work_dirs/pose_demo')
    args = p.parse_args(argv)
    import mmcv
    from mmpose.apis import inference_topdown, init_model
    from mmpose.registry import VISUALIZERS
    from mmpose.structures import merge_data_samples
    ckpt = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = init_model(args.config, ckpt, device='cpu')
    vis_cfg = dict(model.cfg.visualizer)
    # MMPose 1.3's OpenCV drawing calls int() on 1-element arrays, an error under NumPy 2
    vis_cfg['backend'] = 'matplotlib'
    vis = VISUALIZERS.build(vis_cfg)
    vis.set_dataset_meta(model.dataset_meta)
    os.makedirs(args.out_dir, exist_ok=True)
    out = {}
    for name, boxes in mpii_boxes(args.ann).items():
        path = osp.join(args.images, name)
        results = inference_topdown(model, path, np.array(boxes, np.float32))
        sample = merge_data_samples(results)
        img = mmcv.imread(path, channel_order='rgb')
        vis.add_datasample(name, img, data_sample=sample, draw_gt=False, draw_bbox=True,
                           show=False, out_file=osp.join(args.out_dir, name))
        out[name] = sample.pred_instances.keypoints.round(1).tolist()
    print(json.dumps(out))
    print(f'visualisations written to {args.out_dir}')
    return out


if __name__ == '__main__':
    main()
