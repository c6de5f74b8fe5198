"""Measure the two-stage SR pipeline on the held-out (HR, real-world-like LR) pairs.

    python tools/sr/evidence.py [--data-root data/faces_sr_synthetic] [--out work_dirs/sr_evidence]

Reads the three trained runs (defaults: the work dirs of ``tools/train.py`` for the configs
below) and reports:

* **Stage 1** (High-to-Low): how close the generated LR faces are to the real LR faces, as the
  Fréchet patch distance (4x4 patches) to the real test LR set and PSNR/SSIM to the real
  degradation of the same HR face; bicubic downsampling of the HR face is the reference.
* **Stage 2** (Low-to-High) on the *real* LR test faces: PSNR/SSIM to the HR face and the
  Fréchet patch distance (8x8 patches) to the HR set, for bicubic upsampling, the same network
  trained on bicubic-downsampled pairs (``low_to_high_bicubic_faces64``) and the network trained
  on the High-to-Low generator's pairs (``low_to_high_faces64``, the paper's method).

Writes ``results.json``, ``results.md`` and ``side_by_side.png`` (input | bicubic | ours |
bicubic-trained network | HR) into ``--out``.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torchvision.utils import save_image  # noqa: E402

import plugins  # noqa: E402,F401
from plugins.sr import (PairedSRDataset, frechet_distance, load_trained_generator,  # noqa: E402
                        patch_features, psnr, ssim)
from plugins.sr.gan_model import from_net, to_net  # noqa: E402
from plugins.sr.side_by_side import side_by_side  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Evidence for the two-stage SR GANs')
    p.add_argument('--data-root', default='data/faces_sr_synthetic')
    p.add_argument('--stage1', nargs=2, metavar=('CONFIG', 'CKPT'),
                   default=['configs/sr/high_to_low_faces64.py', 'work_dirs/high_to_low_faces64'])
    p.add_argument('--ours', nargs=2, metavar=('CONFIG', 'CKPT'),
                   default=['configs/sr/low_to_high_faces64.py', 'work_dirs/low_to_high_faces64'])
    p.add_argument('--baseline', nargs=2, metavar=('CONFIG', 'CKPT'),
                   default=['configs/sr/low_to_high_bicubic_faces64.py',
                            'work_dirs/low_to_high_bicubic_faces64'])
    p.add_argument('--out', default='work_dirs/sr_evidence')
    p.add_argument('--num-shown', type=int, default=8)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def fd(a: torch.Tensor, b: torch.Tensor, patch: int) -> float:
    fa = patch_features(a, patch, patch // 2).double().numpy()
    fb = patch_features(b, patch, patch // 2).double().numpy()
    return frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0),
                            np.cov(fb, rowvar=False))


def paired_scores(pred: torch.Tensor, gt: torch.Tensor) -> dict:
    return dict(psnr=float(np.mean([psnr(p, g) for p, g in zip(pred, gt)])),
                ssim=float(np.mean([ssim(p, g) for p, g in zip(pred, gt)])))


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    data = PairedSRDataset(args.data_root)
    hr = torch.stack([data[i]['hr'] for i in range(len(data))])
    lr = torch.stack([data[i]['lr'] for i in range(len(data))])
    scale = data.scale
    results: dict = dict(num_test_pairs=len(data), data_root=args.data_root)

    # stage 1: generated vs real LR
    g_hl = load_trained_generator(*args.stage1)
    with torch.no_grad():
        fake_lr = from_net(g_hl(to_net(hr)))
    bic_lr = F.interpolate(hr, scale_factor=1 / scale, mode='bicubic', antialias=True).clamp(0, 1)
    results['stage1'] = {
        'bicubic_downsampling': dict(fd_patch4=fd(bic_lr, lr, 4), **paired_scores(bic_lr, lr)),
        'high_to_low_generator': dict(fd_patch4=fd(fake_lr, lr, 4), **paired_scores(fake_lr, lr)),
    }

    # stage 2: super-resolve the real LR test faces
    outputs = {'bicubic_upsampling': F.interpolate(lr, scale_factor=scale, mode='bicubic',
                                                   align_corners=False).clamp(0, 1)}
    for name, (config, ckpt) in (('bicubic_trained_net', args.baseline),
                                 ('ours_high_to_low_trained_net', args.ours)):
        with torch.no_grad():
            outputs[name] = from_net(load_trained_generator(config, ckpt)(to_net(lr)))
    results['stage2'] = {
        name: dict(fd_patch8=fd(sr, hr, 8), **paired_scores(sr, hr))
        for name, sr in outputs.items()
    }

    os.makedirs(args.out, exist_ok=True)
    n = args.num_shown
    picture = side_by_side(lr[:n], outputs['ours_high_to_low_trained_net'][:n], hr[:n],
                           extra=[outputs['bicubic_trained_net'][:n]])
    save_image(picture, osp.join(args.out, 'side_by_side.png'))
    with open(osp.join(args.out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    lines = [f'{len(data)} held-out pairs from {args.data_root}', '',
             '| stage 1: LR from the HR face | FD patch4 to real LR (lower better) | '
             'PSNR to real LR | SSIM to real LR |', '|---|---|---|---|']
    for name, r in results['stage1'].items():
        lines.append(f"| {name} | {r['fd_patch4']:.4f} | {r['psnr']:.2f} | {r['ssim']:.4f} |")
    lines += ['', '| stage 2: SR of the real LR face | PSNR to HR | SSIM to HR | '
              'FD patch8 to HR (lower better) |', '|---|---|---|---|']
    for name, r in results['stage2'].items():
        lines.append(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['fd_patch8']:.4f} |")
    table = '\n'.join(lines)
    with open(osp.join(args.out, 'results.md'), 'w') as f:
        f.write(table + '\n')
    print(table)
    print(f'picture (input | bicubic | ours | bicubic-trained | HR): '
          f"{osp.join(args.out, 'side_by_side.png')}")
    return results


if __name__ == '__main__':
    main()
