"""Top-down pose inference on images with person boxes, saving the visualisations.

    python tools/pose_demo.py CONFIG CHECKPOINT [--images DIR] [--ann JSON] [--out-dir DIR]

Defaults run on the real MPII sample images (``../shared/data/mmpose_tests/mpii`` beside the
repository) with the person boxes of their MPII annotation (centre, scale * 200 * 1.25, as
MpiiDataset); the keypoints are printed as json and drawn into ``<out-dir>/<image>.png``.
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
from plugins.datasets.sample_data import sample_data_root  # noqa: E402

MPII = osp.join(sample_data_root(), 'mpii')


def mpii_boxes(ann_file: str) -> dict:
    """``{image: [(x1, y1, x2, y2), ...]}`` from an MMPose MPII json."""
    boxes: dict = {}
    for a in json.load(open(ann_file)):
        (cx, cy), half = a['center'], a['scale'] * 200 * 1.25 / 2
        boxes.setdefault(a['image'], []).append([cx - half, cy - half, cx + half, cy + half])
    return boxes


def draw(img: np.ndarray, boxes, kpts: np.ndarray, links) -> None:
    """Boxes, skeleton links and keypoints drawn in place with OpenCV (MMPose 1.3's
    visualiser calls ``int()`` on 1-element arrays, an error under NumPy 2)."""
    import cv2
    r = max(2, int(round(max(img.shape[:2]) / 200)))
    for box in boxes:
        cv2.rectangle(img, tuple(int(v) for v in box[:2]), tuple(int(v) for v in box[2:]),
                      (0, 200, 0), max(1, r // 2))
    for person in kpts:
        for a, b in links:
            pa, pb = person[a], person[b]
            cv2.line(img, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), (255, 160, 0),
                     r)
        for x, y in person:
            cv2.circle(img, (int(x), int(y)), r + 1, (0, 0, 255), -1)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint', help="checkpoint file or 'none'")
    p.add_argument('--images', default=MPII)
    p.add_argument('--ann', default=osp.join(MPII, 'test_mpii.json'))
    p.add_argument('--out-dir', default='work_dirs/pose_demo')
    args = p.parse_args(argv)
    import cv2
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples
    ckpt = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = init_model(args.config, ckpt, device='cpu')
    links = model.dataset_meta.get('skeleton_links', [])
    os.makedirs(args.out_dir, exist_ok=True)
    out = {}
    for name, boxes in mpii_boxes(args.ann).items():
        path = osp.join(args.images, name)
        results = inference_topdown(model, path, np.array(boxes, np.float32))
        sample = merge_data_samples(results)
        kpts = sample.pred_instances.keypoints
        img = cv2.imread(path)
        draw(img, boxes, kpts, links)
        cv2.imwrite(osp.join(args.out_dir, osp.splitext(name)[0] + '.png'), img)
        out[name] = kpts.round(1).tolist()
    print(json.dumps(out))
    print(f'visualisations written to {args.out_dir}')
    return out


if __name__ == '__main__':
    main()
