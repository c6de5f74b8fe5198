"""A picture of a pose model's predictions: held-out images enlarged, skeletons drawn.

    python tools/pose_gallery.py CONFIG CHECKPOINT [CONFIG CHECKPOINT ...] \\
        [--names binary real] [--num 8] [--scale 4] [--out work_dirs/gallery.png]

``CHECKPOINT`` may be ``none`` (random weights). One row per model plus a first row with the
ground truth, ``--num`` images of the config's validation set (evenly spaced), each enlarged
``--scale`` times so that the skeleton can be seen on the figure. Predictions come from MMPose's ``inference_topdown`` with the annotated
person box (centre, scale * 200 * 1.25, as ``MpiiDataset``). Joints that the annotation marks
invisible are not drawn in the ground-truth row.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
from typing import List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import plugins  # noqa: E402,F401
from plugins.engine.config_rebind import load_config  # noqa: E402

LEFT, RIGHT, CENTRE = (0, 170, 255), (255, 120, 0), (60, 200, 60)  # BGR


def draw_skeleton(img: np.ndarray, kpts: np.ndarray, links, colors, visible=None,
                  scale: float = 1.0) -> None:
    """Draw ``links`` between ``kpts`` (K, 2) (image coordinates) on ``img`` in place."""
    import cv2
    width = max(2, int(round(scale)))
    vis = np.ones(len(kpts), bool) if visible is None else np.asarray(visible) > 0
    for (a, b), color in zip(links, colors):
        if vis[a] and vis[b]:
            pa = tuple(int(round(v * scale)) for v in kpts[a])
            pb = tuple(int(round(v * scale)) for v in kpts[b])
            cv2.line(img, pa, pb, color, width, cv2.LINE_AA)
    for k, (x, y) in enumerate(kpts):
        if vis[k]:
            cv2.circle(img, (int(round(x * scale)), int(round(y * scale))), width + 1,
                       (255, 255, 255), -1, cv2.LINE_AA)


def link_colors(meta: dict) -> List[tuple]:
    """Left limbs orange, right limbs blue, the rest green (from the keypoint names)."""
    names = [meta['keypoint_id2name'][i] for i in range(meta['num_keypoints'])]
    out = []
    for a, b in meta['skeleton_links']:
        side = {n.split('_')[0] for n in (names[a], names[b])}
        out.append(LEFT if side == {'left'} else RIGHT if side == {'right'} else CENTRE)
    return out


def load_val(cfg) -> list:
    ds = cfg.val_dataloader.dataset
    root = ds.data_root
    ann = json.load(open(osp.join(root, ds.ann_file)))
    img_dir = osp.join(root, ds.data_prefix['img'])
    return [(osp.join(img_dir, a['image']), a) for a in ann]


def main(argv=None) -> str:
    import cv2
    from mmengine.registry import init_default_scope
    from mmpose.apis import inference_topdown, init_model
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('pairs', nargs='+', help='CONFIG CHECKPOINT [CONFIG CHECKPOINT ...]')
    p.add_argument('--names', nargs='+', help='one row title per model')
    p.add_argument('--num', type=int, default=8, help='images per row')
    p.add_argument('--scale', type=float, default=4.0, help='enlargement of each image')
    p.add_argument('--out', default='work_dirs/gallery.png')
    args = p.parse_args(argv)
    if len(args.pairs) % 2:
        raise ValueError(f'expected CONFIG CHECKPOINT pairs, got {len(args.pairs)} arguments')
    pairs = list(zip(args.pairs[::2], args.pairs[1::2]))
    names = args.names or [osp.splitext(osp.basename(c))[0] for c, _ in pairs]
    init_default_scope('mmpose')
    cfgs = [load_config(c) for c, _ in pairs]
    samples = load_val(cfgs[0])
    idx = np.linspace(0, len(samples) - 1, args.num).round().astype(int)
    models = [init_model(cfg, None if ckpt == 'none' else ckpt, device='cpu')
              for cfg, (_, ckpt) in zip(cfgs, pairs)]
    meta = models[0].dataset_meta
    links, colors = meta['skeleton_links'], link_colors(meta)
    rows = []
    for title, model in [('ground truth', None)] + list(zip(names, models)):
        tiles = []
        for i in idx:
            path, ann = samples[i]
            img = cv2.imread(path)
            big = cv2.resize(img, None, fx=args.scale, fy=args.scale,
                             interpolation=cv2.INTER_CUBIC)
            if model is None:
                kpts, vis = np.asarray(ann['joints'], float), ann['joints_vis']
            else:
                (cx, cy), half = ann['center'], ann['scale'] * 200 * 1.25 / 2
                box = np.array([[cx - half, cy - half, cx + half, cy + half]])
                kpts, vis = inference_topdown(model, img, box)[0].pred_instances.keypoints[0], None
            draw_skeleton(big, kpts, links, colors, vis, args.scale)
            tiles.append(big)
        row = np.concatenate(tiles, axis=1)
        label = np.full((36, row.shape[1], 3), 255, np.uint8)
        cv2.putText(label, title, (8, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2,
                    cv2.LINE_AA)
        rows += [label, row]
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, np.concatenate(rows, axis=0))
    print(f'gallery: {args.out}')
    return args.out


if __name__ == '__main__':
    main()
