"""Super-resolve a folder of images with a trained Low-to-High generator.

    python tools/sr/super_resolve.py configs/sr/low_to_high_faces64.py \
        work_dirs/low_to_high_faces64 IN_DIR OUT_DIR [--lr-size 16] [--side-by-side grid.png]

CHECKPOINT is a ``.pth`` file or a work dir (its ``last_checkpoint`` is followed). Each image of
IN_DIR (png/jpg/bmp/tif/webp; grey replicated to RGB, RGBA composited over white) is written
to OUT_DIR as ``<name>.png`` at ``scale`` times its size. ``--lr-size N`` first brings each
input to N x N (area resize of the shorter side + centre crop; an input smaller than N is an
error), as the networks were trained on 16x16 faces; without it images keep their size, which
must be at least 4 px per side.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from torchvision.utils import save_image  # noqa: E402

import plugins  # noqa: E402,F401
from plugins.sr import fit_to_size, list_images, load_trained_generator, read_rgb  # noqa: E402
from plugins.sr.gan_model import from_net, to_net  # noqa: E402
from plugins.sr.image_io import save_rgb, to_tensor  # noqa: E402
from plugins.sr.side_by_side import side_by_side  # noqa: E402

MIN_SIDE = 4


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Super-resolve a folder of images')
    parser.add_argument('config', help='stage-2 config (configs/sr/low_to_high_*.py)')
    parser.add_argument('checkpoint', help='stage-2 checkpoint .pth or work dir')
    parser.add_argument('in_dir', help='folder of LR images')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--lr-size', type=int, default=None,
                        help='resize + centre-crop inputs to this side first')
    parser.add_argument('--side-by-side', default=None,
                        help='also write a picture input | bicubic | ours to this file')
    parser.add_argument('--max-side-by-side', type=int, default=16,
                        help='images shown in the side-by-side picture')
    parser.add_argument('--threads', type=int, default=1, help='torch threads')
    return parser.parse_args(argv)


def main(argv=None) -> list:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = load_trained_generator(args.config, args.checkpoint)
    paths = list_images(args.in_dir)
    os.makedirs(args.out_dir, exist_ok=True)
    written, shown = [], []
    for path in paths:
        image = read_rgb(path)
        if args.lr_size:
            image = fit_to_size(image, args.lr_size, path)
        elif min(image.shape[:2]) < MIN_SIDE:
            raise ValueError(f'{path} is {image.shape[1]}x{image.shape[0]} px; need at least '
                             f'{MIN_SIDE} px per side')
        lr = to_tensor(image)[None]
        with torch.no_grad():
            sr = from_net(generator(to_net(lr)))
        out = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0] + '.png')
        save_rgb(out, sr[0])
        written.append(out)
        if args.side_by_side and len(shown) < args.max_side_by_side:
            shown.append((lr, sr))
    if args.side_by_side and shown:
        same = [s for s in shown if s[0].shape == shown[0][0].shape]
        picture = side_by_side(torch.cat([s[0] for s in same]), torch.cat([s[1] for s in same]))
        os.makedirs(osp.dirname(osp.abspath(args.side_by_side)), exist_ok=True)
        save_image(picture, args.side_by_side)
        print(f'side-by-side (input | bicubic | ours): {args.side_by_side}')
    print(f'{len(written)} images super-resolved x{generator.scale} into {args.out_dir}')
    return written


if __name__ == '__main__':
    main()
