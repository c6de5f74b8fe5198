#!/usr/bin/env python
"""Evidence of learning: real vs binary (no scale, XNOR analytic, each learned XNOR-Net++ shape)
on scikit-learn's bundled digits (1797 8x8 images, 10 classes), same budget and seeds.

Network (all variants): a real 3x3 stem conv (1 -> C), then residual blocks
``x + PReLU(conv(BN(x)))`` (two at 8x8, max-pool, two at 4x4), global average pooling and a
real linear classifier; ``conv`` is ``nn.Conv2d`` for ``real`` and ``BinaryConv2d`` (binary
weights and activations) otherwise. Adam, cosine learning rate, fixed train/test split.

    python tools/benchmark_binary_training.py            # 3 seeds x 15 epochs
    python tools/benchmark_binary_training.py --quick    # 1 seed x 3 epochs (smoke run)
"""
from __future__ import annotations

import argparse
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import plugins  # noqa: E402,F401
from plugins.binary import BinaryConv2d  # noqa: E402
from plugins.binary.scaling import SCALINGS  # noqa: E402

VARIANTS = {
    'real': None,
    **SCALINGS,
    # optional extras (pass with --variants)
    'channel_svd': dict(scale='learned', scale_shape='channel', latent=dict(type='SVD',
                                                                            rank=0.5)),
    'channel_tucker': dict(scale='learned', scale_shape='channel',
                           latent=dict(type='Tucker', rank=0.5)),
    'channel_approxsign': dict(scale='learned', scale_shape='channel',
                               act_quantizer=dict(type='ApproxSign')),
    'channel_xnor_init': dict(scale='learned', scale_shape='channel', scale_init='xnor'),
}
DEFAULT = ['real', 'none', 'xnor', 'channel', 'chw', 'rank1']


class Block(nn.Module):
    """``x + PReLU(conv(BN(x)))`` at a fixed resolution."""

    def __init__(self, c: int, size: int, spec) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(c)
        if spec is None:
            self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
        else:
            self.conv = BinaryConv2d(c, c, 3, padding=1, bias=False, out_size=(size, size),
                                     **spec)
        self.act = nn.PReLU(c)

    def forward(self, x):
        return x + self.act(self.conv(self.bn(x)))


def make_net(spec, c: int = 32) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
        Block(c, 8, spec), Block(c, 8, spec), nn.MaxPool2d(2),
        Block(c, 4, spec), Block(c, 4, spec),
        nn.BatchNorm2d(c), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))


def load_digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = (x - x.mean()) / x.std()
    y = torch.tensor(d.target)
    idx_tr, idx_te = train_test_split(range(len(y)), test_size=0.25, random_state=0,
                                      stratify=d.target)
    return x[idx_tr], y[idx_tr], x[idx_te], y[idx_te]


def train_eval(spec, data, seed: int, epochs: int, batch: int = 64, lr: float = 2e-3) -> float:
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    net = make_net(spec)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * ((len(ytr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(ytr), generator=g)
        for i in range(0, len(ytr), batch):
            j = perm[i:i + batch]
            loss = F.cross_entropy(net(xtr[j]), ytr[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        return (net(xte).argmax(1) == yte).float().mean().item() * 100


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true', help='1 seed, 3 epochs')
    p.add_argument('--epochs', type=int, default=None)
    p.add_argument('--seeds', type=int, nargs='+', default=None)
    p.add_argument('--variants', nargs='+', default=DEFAULT, choices=list(VARIANTS))
    p.add_argument('--threads', type=int, default=1,
                   help='torch threads (1: tiny convs gain nothing from more)')
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    epochs = args.epochs or (3 if args.quick else 15)
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    data = load_digits_split()
    print(f'digits: {len(data[1])} train / {len(data[3])} test images, {epochs} epochs, '
          f'seeds {seeds}, torch {torch.__version__}, {torch.get_num_threads()} threads')
    print('| variant | test accuracy % (mean ± std) | per seed | s per run |\n|---|---:|---|---:|')
    results = {}
    for v in args.variants:
        accs, t0 = [], time.perf_counter()
        for s in seeds:
            accs.append(train_eval(VARIANTS[v], data, s, epochs))
        dt = (time.perf_counter() - t0) / len(seeds)
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        results[v] = accs
        print(f'| {v} | {statistics.mean(accs):.1f} ± {sd:.1f} | '
              f'{", ".join(f"{a:.1f}" for a in accs)} | {dt:.0f} |', flush=True)
    return results


if __name__ == '__main__':
    main()
