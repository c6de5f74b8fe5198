"""Classification evidence: complexity table, real vs binary training, multi-domain learning.

    python tools/benchmark_cls.py table      [--quick]   # vs timm's resnet18 at 224x224
    python tools/benchmark_cls.py train      [--quick]   # real vs binary (each scaling) on digits
    python tools/benchmark_cls.py multidomain [--quick] [--seeds 0 1 2]  # add digits domains
    python tools/benchmark_cls.py all        [--quick] [--out docs/cls_results.json]

Everything runs on the embedded data (scikit-learn digits), on CPU, with fixed seeds; the
printed Markdown tables are those of docs/cls.md. ``--quick`` shrinks budgets (for a re-run in a
few minutes); numbers in the docs say which mode produced them.
"""
from __future__ import annotations

import argparse
import json
import math
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import plugins  # noqa: E402,F401
from plugins.engine.progress import track  # noqa: E402
from plugins.engine.seed_stats import mean_std  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from plugins.analysis import complexity  # noqa: E402
from plugins.cls import decathlon_score  # noqa: E402
from plugins.cls.multidomain import LatentTuckerResNet  # noqa: E402
from plugins.datasets.digits import DIGITS_DOMAINS, load_digits_domain  # noqa: E402

TABLE_MODELS = ['resnet18', 'real_resnet18', 'real_bireal_resnet18', 'binary_resnet18_none',
                'binary_resnet18_xnor', 'binary_resnet18_channel', 'binary_resnet18_chw',
                'binary_resnet18_rank1', 'binary_resnet18_latent_svd',
                'binary_resnet18_latent_tucker', 'binary_resnet18_latent_cp', 'cp_resnet18',
                'tucker_resnet18']
TRAIN_MODELS = ['real_resnet18', 'real_bireal_resnet18', 'binary_resnet18_none',
                'binary_resnet18_xnor', 'binary_resnet18_channel', 'binary_resnet18_chw',
                'binary_resnet18_rank1']
MD_DOMAINS = ['digits', 'digits_inverted', 'digits_rot90', 'digits_color', 'digits_lowres',
              'digits_parity']


# ----------------------------------------------------------------------------- helpers
def _norm(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 127.5 - 1.0


def _batches(n: int, bs: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    return [perm[i:i + bs] for i in range(0, n, bs)]


def _fit(model, forward, x, y, epochs: int, lr: float = 2e-3, bs: int = 64, seed: int = 0):
    """Adam + cosine decay; ``forward(model, x)`` gives logits. Returns seconds."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    steps = epochs * math.ceil(len(y) / bs)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr * 0.01)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        for idx in _batches(len(y), bs, gen):
            loss = F.cross_entropy(forward(model, _norm(x[idx])), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return time.perf_counter() - t0


@torch.no_grad()
def _logits(model, forward, x, bs: int = 256) -> torch.Tensor:
    model.eval()
    return torch.cat([forward(model, _norm(x[i:i + bs])) for i in range(0, len(x), bs)])


def _md(rows: list[dict], cols: list[str]) -> str:
    out = ['| ' + ' | '.join(cols) + ' |', '|' + '|'.join('---' for _ in cols) + '|']
    out += ['| ' + ' | '.join(str(r[c]) for c in cols) + ' |' for r in rows]
    return '\n'.join(out)


# ----------------------------------------------------------------------------- table
def run_table(quick: bool, models: list[str] | None = None) -> list[dict]:
    """Params, packed size, FLOPs, BOPs and CPU latency at 1x3x224x224, 1000 classes."""
    rows = []
    runs = 3 if quick else 10
    x = torch.randn(1, 3, 224, 224)
    for name in track(models or TABLE_MODELS, desc='benchmark_cls table', unit='model'):
        torch.manual_seed(0)
        t0 = time.perf_counter()
        model = timm.create_model(name).eval()
        build = time.perf_counter() - t0
        rep = complexity(model, (1, 3, 224, 224))
        times = []
        with torch.no_grad():
            model(x)  # warm-up (resolves chw/rank1 scale shapes)
            for _ in range(runs):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
        t = rep.total
        rows.append(dict(model=name, params_M=round(sum(p.numel() for p in model.parameters())
                                                     / 1e6, 3),
                         binary_params_M=round(t.binary_params / 1e6, 3),
                         packed_MiB=round(rep.packed_bytes / 2**20, 3),
                         GFLOPs=round(t.flops / 1e9, 3), GBOPs=round(t.bops / 1e9, 3),
                         GOPs_flops_plus_bops_64=round(rep.ops / 1e9, 3),
                         latency_ms=round(statistics.median(times) * 1e3, 1),
                         build_s=round(build, 1)))
        print(rows[-1], flush=True)
    return rows


# ----------------------------------------------------------------------------- train
def run_train(quick: bool) -> list[dict]:
    """Real vs binary ResNet-18 (each scaling) on digits with the same budget."""
    size, width, epochs = (8, 16, 4) if quick else (16, 16, 10)
    x, y = load_digits_domain('digits', 'train', size)
    xv, yv = load_digits_domain('digits', 'val', size)
    rows = []
    for name in track(TRAIN_MODELS, desc='benchmark_cls train', unit='model'):
        torch.manual_seed(0)
        model = timm.create_model(name, num_classes=10, width=width, stem='small')
        secs = _fit(model, lambda m, t: m(t), x, y, epochs)
        acc = (_logits(model, lambda m, t: m(t), xv).argmax(1) == yv).float().mean().item()
        rows.append(dict(model=name, val_top1=round(100 * acc, 2), train_s=round(secs, 1),
                         epochs=epochs, width=width, size=size))
        print(rows[-1], flush=True)
    return rows


# ----------------------------------------------------------------------------- multidomain
def run_multidomain(quick: bool, lr_new: float = 1e-2, seed: int = 0, layout: str = 'resnet26',
                    domains: list[str] | None = None,
                    epochs: tuple[int, int, int] | None = None) -> dict:
    """Add digits domains one by one; earlier domains checked bit-for-bit after every step.

    Args:
        quick: small budgets (3/2/3 epochs, the first four domains).
        lr_new: Adam learning rate of every domain after the first.
        seed: initialisation of every network and order of the batches (seed 0 is the
            earlier single-seed measurement).
        layout: ``LatentTuckerResNet`` layout (``'resnet26'``, the default, or ``'transition'``).
        domains: override of the domain list (tests).
        epochs: override of (first domain, each new domain, baseline) epochs (tests).
    """
    size, widths, layers = 16, (16, 32, 64), (2, 2, 2)
    ep_first, ep_new, ep_base = epochs or ((3, 2, 3) if quick else (10, 6, 10))
    domains = domains or (MD_DOMAINS[:4] if quick else MD_DOMAINS)
    data = {d: (load_digits_domain(d, 'train', size), load_digits_domain(d, 'val', size))
            for d in domains}

    def fwd(domain):
        return lambda m, t: m(t, domain)

    # baseline errors: an independent dense network of the same architecture per domain
    # (E_max = 2 x baseline error, as the challenge uses a fine-tuned network per domain)
    baseline, baseline_top1 = {}, {}
    for d in domains:
        (x, y), (xv, yv) = data[d]
        torch.manual_seed(seed)
        net = timm.create_model('real_resnet18', num_classes=DIGITS_DOMAINS[d][2],
                                width=widths[0], stem='small')
        net.layer4 = torch.nn.Identity()  # 3 stages (16, 32, 64) like the multi-domain model
        net.num_features = widths[-1]
        net.fc = torch.nn.Linear(widths[-1], DIGITS_DOMAINS[d][2])
        _fit(net, lambda m, t: m(t), x, y, ep_base, seed=seed)
        err = 1 - (_logits(net, lambda m, t: m(t), xv).argmax(1) == yv).float().mean().item()
        baseline_top1[d] = round(100 * (1 - err), 2)
        baseline[d] = max(err, 1.0 / len(yv))  # at least one error, so E_max > 0
        print(f'baseline {d} (seed {seed}): error {err:.4f}', flush=True)

    torch.manual_seed(seed)
    net = LatentTuckerResNet(layers=layers, widths=widths, rank=1.0, layout=layout)
    full = net.full_network_params()
    reference_logits: dict[str, torch.Tensor] = {}
    steps = []
    for k, d in enumerate(domains):
        (x, y), (xv, yv) = data[d]
        before = sum(p.numel() for p in net.parameters())
        net.add_domain(d, DIGITS_DOMAINS[d][2], init_from=0)
        added = sum(p.numel() for p in net.parameters()) - before
        secs = _fit(net, fwd(d), x, y, ep_first if k == 0 else ep_new,
                    lr=2e-3 if k == 0 else lr_new, seed=1000 * seed + k)
        reference_logits[d] = _logits(net, fwd(d), xv)
        identical = all(torch.equal(_logits(net, fwd(e), data[e][1][0]), reference_logits[e])
                        for e in domains[:k])
        errors = {e: 1 - (reference_logits[e].argmax(1) == data[e][1][1]).float().mean().item()
                  for e in domains[:k + 1]}
        score = decathlon_score(errors, {e: baseline[e] for e in errors})[0]
        steps.append(dict(step=k, domain=d, added_params=added,
                          added_ratio=round(added / full, 4),
                          val_top1=round(100 * (1 - errors[d]), 2),
                          baseline_top1=baseline_top1[d],
                          earlier_identical=identical if k else '-',
                          score=round(score, 1), max_score=1000 * (k + 1),
                          train_s=round(secs, 1)))
        print(steps[-1], flush=True)
    total_params = sum(p.numel() for p in net.parameters())
    return dict(seed=seed, layout=net.layout, steps=steps, baseline_errors=baseline,
                full_network_params=full, total_params=total_params,
                independent_networks_params=full * len(domains),
                params_per_domain_ratio=round(net.params_per_domain() / full, 4))


def summarise_multidomain(runs: list[dict]) -> list[dict]:
    """One row per step over the seeds of :func:`run_multidomain` runs.

    Accuracies and scores as mean +- std (sample std) with the per-seed values; parameter
    counts must agree between seeds; ``earlier_identical`` is True only if it held in every
    seed.
    """
    rows = []
    for k, step in enumerate(runs[0]['steps']):
        per = [r['steps'][k] for r in runs]
        if len({s['added_params'] for s in per}) != 1 or len({s['domain'] for s in per}) != 1:
            raise ValueError(f'step {k}: runs disagree on domain/parameters: {per}')
        same = [s['earlier_identical'] for s in per]
        rows.append(dict(
            step=k, domain=step['domain'], added_params=step['added_params'],
            added_ratio=step['added_ratio'],
            val_top1=mean_std([s['val_top1'] for s in per], 2),
            val_top1_per_seed=', '.join(f"{s['val_top1']:.2f}" for s in per),
            baseline_top1=mean_std([s['baseline_top1'] for s in per], 2),
            baseline_top1_per_seed=', '.join(f"{s['baseline_top1']:.2f}" for s in per),
            earlier_identical='-' if k == 0 else all(v is True for v in same),
            score=mean_std([s['score'] for s in per], 1),
            seeds=', '.join(str(r['seed']) for r in runs)))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('what', choices=['table', 'train', 'multidomain', 'all'])
    parser.add_argument('--quick', action='store_true', help='small budgets (minutes)')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--lr-new', type=float, default=1e-2,
                        help='multidomain: Adam learning rate of the domains after the first')
    parser.add_argument('--models', nargs='+', help='table: only these timm model names')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0],
                        help='multidomain: one run per seed, then mean +- std per step')
    parser.add_argument('--layout', default='resnet26', choices=['resnet26', 'transition'],
                        help='multidomain: network layout (ResNet-26, or the earlier transition '
                        'convs)')
    parser.add_argument('--out', help='write the results as json')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = {'quick': args.quick, 'threads': args.threads, 'lr_new': args.lr_new,
               'layout': args.layout}
    if args.what in ('table', 'all'):
        results['table'] = run_table(args.quick, args.models)
        print(_md(results['table'], list(results['table'][0])))
    if args.what in ('train', 'all'):
        results['train'] = run_train(args.quick)
        print(_md(results['train'], list(results['train'][0])))
    if args.what in ('multidomain', 'all'):
        runs = []
        for seed in track(args.seeds, desc='benchmark_cls multidomain', unit='seed'):
            runs.append(run_multidomain(args.quick, args.lr_new, seed=seed, layout=args.layout))
            md = runs[-1]
            print(_md(md['steps'], list(md['steps'][0])))
            print({k: v for k, v in md.items() if k != 'steps'}, flush=True)
            if args.out:  # every finished seed on disk
                with open(args.out, 'w') as f:
                    json.dump(dict(results, multidomain=runs), f, indent=1)
        results['multidomain'] = runs if len(runs) > 1 else runs[0]
        if len(runs) > 1:
            results['multidomain_summary'] = summarise_multidomain(runs)
            print(_md(results['multidomain_summary'], list(results['multidomain_summary'][0])))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
