"""2-D -> 3-D transduction on the embedded talking-mouth clips: transduced vs from scratch.

    python tools/benchmark_transduction.py --data-root data/lrw_synthetic --seeds 0 1 2

"Factorized Higher-Order CNNs with an Application to Spatio-Temporal Emotion Estimation"
(Kossaifi et al., CVPR 2020): train a CP network on still images, transduce it to 3-D
(:func:`plugins.tensor.transduce`), train the temporal factors with the spatial ones fixed,
then fine-tune everything. The claim tested: the transduced 3-D network beats the same 3-D
network trained from scratch on the clips with the same budget.

Data: the word clips of ``plugins/lipreading`` (``tools/generate_data.py lrw_synthetic``),
mouth crops 28x28 (the lip-reading test pipeline: ``LoadLRWClip``, ``MouthROICrop``,
``CenterClipCrop``), every ``--frame-step``-th of the 29 frames (default 2: 15 frames). The
first ``--train-per-word`` training clips of every word train; the remaining training clips
and the validation clips are the held-out set.

Network (a small CP ResNet, the lip-reading ``ResNetTrunk`` blocks with
``conv_cfg=dict(type='CPConv', rank=...)``): dense 3x3/2 stem conv + BN + ReLU, two stages of
one basic block (widths 16, 32), global average pool, linear word classifier. Arms, per seed:

* ``2-D frames``: the 2-D network trained on single frames (random frame of a clip, the
  clip's word as label) for ``--pretrain-iters``; evaluated on clips by averaging its logits
  over the frames;
* ``transduced``: that network transduced (temporal kernel 3, delta init; the classifier
  kept), spatial factors fixed for ``--freeze-iters``, then all trained, ``--iters`` in all;
* ``scratch``: the same 3-D network, randomly initialised, ``--iters`` iterations;
* ``scratch+``: the same, with ``--iters`` plus as many iterations as the pre-training's
  frames amount to in clips (the same number of frames through the network in all).

Same optimiser (Adam), learning rate, batch and data order for every arm; accuracy on the
held-out clips.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import plugins  # noqa: E402,F401
from plugins.engine.progress import track  # noqa: E402
from plugins.engine.seed_stats import mean_std  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mmengine.registry import DATASETS  # noqa: E402

from plugins.lipreading.model import ResNetTrunk  # noqa: E402
from plugins.tensor import CPConv3d, freeze_spatial_factors, transduce  # noqa: E402
from plugins.tensor.transduction import TEMPORAL_ATTR  # noqa: E402

PIPELINE = [
    dict(type='LoadLRWClip', num_frames=29),
    dict(type='MouthROICrop', out_size=32, crop_size=32),
    dict(type='CenterClipCrop', size=28),
    dict(type='PackLipClip'),
]


def load_clips(data_root: str, train_per_word: int, frame_step: int = 1):
    """Returns (train clips (N, 1, T, H, W) float, labels), (held-out clips, labels); every
    ``frame_step``-th frame."""
    out = {}
    for split in ('train', 'val'):
        ds = DATASETS.build(dict(type='LRWDataset', data_root=data_root, split=split,
                                 pipeline=PIPELINE))
        clips, labels, index = [], [], []
        counts = {}
        for i in range(len(ds)):
            item = ds[i]
            label = int(item['data_samples'].gt_label)
            clips.append(item['inputs'][:, ::frame_step])
            labels.append(label)
            index.append(counts.get(label, 0))
            counts[label] = counts.get(label, 0) + 1
        out[split] = (torch.stack(clips).float().div(255).sub(0.5).div(0.2),
                      torch.tensor(labels), torch.tensor(index))
    x, y, idx = out['train']
    keep = idx < train_per_word
    held_x = torch.cat([x[~keep], out['val'][0]])
    held_y = torch.cat([y[~keep], out['val'][1]])
    return (x[keep], y[keep]), (held_x, held_y)


class Frame2d(nn.Module):
    """2-D CP network: (N, 1, H, W) -> features (N, C, 1, 1)."""

    def __init__(self, rank: float, widths=(16, 32)) -> None:
        super().__init__()
        trunk = ResNetTrunk(widths[0], widths=widths, blocks=(1, ) * len(widths),
                            conv_cfg=dict(type='CPConv', rank=rank))
        self.features = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True), trunk.layers, nn.AdaptiveAvgPool2d(1))
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def reinit_3d(net: nn.Module) -> nn.Module:
    """Random init of every transduced layer (the 'from scratch' 3-D network)."""
    for module in net.modules():
        if isinstance(module, CPConv3d):
            fresh = CPConv3d(module.in_channels, module.out_channels, module.kernel_size,
                             rank=module.rank, bias=module.bias is not None)
            module.load_state_dict(fresh.state_dict())
        elif isinstance(module, (nn.Conv3d, nn.BatchNorm3d, nn.Linear)):
            module.reset_parameters()
        if isinstance(module, nn.BatchNorm3d):
            module.reset_running_stats()
    return net


def clip_logits(features: nn.Module, head: nn.Linear, clips: torch.Tensor) -> torch.Tensor:
    """3-D network on (N, 1, T, H, W): features (N, C, T, 1, 1) pooled over time."""
    return head(features(clips).mean((2, 3, 4)))


def frame_logits(features: nn.Module, head: nn.Linear, clips: torch.Tensor) -> torch.Tensor:
    """2-D network on every frame, logits averaged over time."""
    n, c, t, h, w = clips.shape
    frames = clips.transpose(1, 2).reshape(n * t, c, h, w)
    return head(features(frames).flatten(1)).view(n, t, -1).mean(1)


@torch.no_grad()
def accuracy(logits_fn, features, head, x, y, batch: int = 32) -> float:
    features.eval()
    pred = torch.cat([logits_fn(features, head, x[i:i + batch]).argmax(1)
                      for i in range(0, len(x), batch)])
    features.train()
    return 100.0 * (pred == y).float().mean().item()


def train(features, head, batches, lr: float, freeze_iters: int = 0) -> None:
    """Adam over ``batches`` (list of (inputs, labels, logits_fn)); spatial factors of a
    transduced network fixed for the first ``freeze_iters`` iterations."""
    params = list(features.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, len(batches), lr * 0.01)
    if freeze_iters:
        freeze_spatial_factors(features, True)
    for it, (x, y, logits_fn) in enumerate(batches):
        if freeze_iters and it == freeze_iters:
            freeze_spatial_factors(features, False)
        loss = F.cross_entropy(logits_fn(features, head, x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()


def clip_batches(x, y, iters: int, batch: int, gen: torch.Generator, flip: bool = True):
    out = []
    for _ in range(iters):
        idx = torch.randint(len(x), (batch, ), generator=gen)
        xb = x[idx]
        if flip:
            mask = torch.rand(batch, generator=gen) < 0.5
            xb = torch.where(mask.view(-1, 1, 1, 1, 1), xb.flip(-1), xb)
        out.append((xb, y[idx], clip_logits))
    return out


def frame_batches(x, y, iters: int, batch: int, gen: torch.Generator):
    out = []
    for _ in range(iters):
        idx = torch.randint(len(x), (batch, ), generator=gen)
        t = torch.randint(x.shape[2], (batch, ), generator=gen)
        frames = x[idx, :, t]  # (batch, 1, H, W)
        mask = torch.rand(batch, generator=gen) < 0.5
        frames = torch.where(mask.view(-1, 1, 1, 1), frames.flip(-1), frames)
        out.append((frames, y[idx], lambda f, h, z: h(f(z).flatten(1))))
    return out


def run_seed(seed: int, data, args) -> dict:
    (x, y), (hx, hy) = data
    n_cls = int(y.max()) + 1
    torch.manual_seed(seed)
    net2d = Frame2d(args.rank)
    head2d = nn.Linear(net2d.out_channels, n_cls)
    scratch_init = (transduce(net2d.features, temporal_kernel=args.temporal_kernel),
                    nn.Linear(net2d.out_channels, n_cls))
    reinit_3d(scratch_init[0])
    gen = torch.Generator().manual_seed(1000 + seed)
    row = dict(seed=seed)
    t0 = time.perf_counter()
    train(net2d.features, head2d, frame_batches(x, y, args.pretrain_iters, args.frame_batch,
                                                gen), args.lr)
    row['2-D frames'] = accuracy(frame_logits, net2d.features, head2d, hx, hy)
    row['pretrain_s'] = time.perf_counter() - t0
    clip_gen_state = torch.Generator().manual_seed(2000 + seed).get_state()
    extra = math.ceil(args.pretrain_iters * args.frame_batch /
                      (args.batch * x.shape[2]))  # pre-training frames, in clip iterations
    arms = {
        'transduced': (lambda: (transduce(net2d.features, temporal_kernel=args.temporal_kernel),
                                nn.Linear(net2d.out_channels, n_cls)), args.iters,
                       args.freeze_iters),
        'scratch': (None, args.iters, 0),
        'scratch+': (None, args.iters + extra, 0),
    }
    for name, (build, iters, freeze) in arms.items():
        if build is None:
            torch.manual_seed(seed)
            features = copy.deepcopy(scratch_init[0])  # the same random 3-D network
            head = nn.Linear(net2d.out_channels, n_cls)
            head.load_state_dict(scratch_init[1].state_dict())
        else:
            features, head = build()
            head.load_state_dict(head2d.state_dict())
        gen = torch.Generator()
        gen.set_state(clip_gen_state)  # same clip order for every arm
        t0 = time.perf_counter()
        train(features, head, clip_batches(x, y, iters, args.batch, gen), args.lr, freeze)
        row[name] = accuracy(clip_logits, features, head, hx, hy)
        row[f'{name}_s'] = time.perf_counter() - t0
        row[f'{name}_iters'] = iters
    print(json.dumps(row), flush=True)
    return row


def markdown(rows: list) -> str:
    arms = ['2-D frames', 'transduced', 'scratch', 'scratch+']
    lines = ['| network | iterations on clips | held-out accuracy % (mean +- std) | per seed |',
             '|---|---|---|---|']
    for arm in arms:
        acc = [r[arm] for r in rows]
        iters = '-' if arm == '2-D frames' else ', '.join(str(r[f'{arm}_iters'])
                                                           for r in rows[:1])
        lines.append(f'| {arm} | {iters} | {mean_std(acc)} | '
                     f'{", ".join(f"{a:.1f}" for a in acc)} |')
    return '\n'.join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/lrw_synthetic')
    parser.add_argument('--train-per-word', type=int, default=40)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--rank', type=float, default=0.5, help='CP rank ratio of the convs')
    parser.add_argument('--temporal-kernel', type=int, default=3)
    parser.add_argument('--frame-step', type=int, default=2,
                        help='keep every n-th frame (2: 15 of the 29 frames)')
    parser.add_argument('--pretrain-iters', type=int, default=200)
    parser.add_argument('--frame-batch', type=int, default=64)
    parser.add_argument('--iters', type=int, default=100)
    parser.add_argument('--freeze-iters', type=int, default=30)
    parser.add_argument('--batch', type=int, default=12)
    parser.add_argument('--lr', type=float, default=3e-3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--json', default=None, help='write the rows to this file')
    parser.add_argument('--table-from', nargs='+', default=None, metavar='JSON')
    args = parser.parse_args(argv)
    if args.table_from:
        rows = sum((json.load(open(p)) for p in args.table_from), [])
        print(markdown(rows))
        return
    torch.set_num_threads(args.threads)
    data = load_clips(args.data_root, args.train_per_word, args.frame_step)
    print(f'{len(data[0][0])} training clips, {len(data[1][0])} held-out clips', flush=True)
    rows = []
    for seed in track(args.seeds, desc='benchmark_transduction', unit='seed'):
        rows.append(run_seed(seed, data, args))
        if args.json:
            with open(args.json, 'w') as f:
                json.dump(rows, f, indent=1)
    print(markdown(rows))


if __name__ == '__main__':
    main()
