"""Deploy a trained binary pose model: export, size, packed-vs-float latency, and a check that
the packed model predicts what the float binary model predicts on validation images.

    python tools/deploy_check.py CONFIG CHECKPOINT [--val-images 16] [--threads 1]
                                 [--rounds 5] [--heap warm] [--out model.bnn]
                                 [--cfg-options k=v ...]

Steps (prints one line each, exits with status 1 if the predictions differ):

1. builds the model of CONFIG, loads CHECKPOINT (as ``tools/test.py``), exports it
   (``plugins.deploy.export_binary``: packed binary convs, BatchNorms folded into them) and
   writes the packed file (safetensors + layer table + the model config);
2. loads the file back *from its header alone* (``load_packed(path)``: the model is rebuilt
   from the stored config, nothing is unpickled) and uses that model from here on;
3. latency of the whole model (data preprocessing excluded: backbone + head on one
   preprocessed val image, batch 1), float binary model vs packed, interleaved rounds in one
   run, medians and their ratio, with a warm heap by default (``--heap``,
   plugins/engine/heap.py: no page faults per forward, as in a deployment process);
4. predictions on the first ``--val-images`` val images with the config's test settings (flip
   test ...): the heatmap argmax of every keypoint (the integer part) must be identical and
   the decoded keypoint coordinates equal within ``--tol-px`` pixels (float rounding: the
   packed layers multiply the exact integer XNOR-popcount by the scale, the float model folds
   the scale into the weights; folded BatchNorms may round differently at their threshold,
   see docs/deploy.md). ``--min-agreement F`` accepts a fraction F < 1 of identical keypoints
   and says so ("EQUAL up to float rounding"): the main job uses 0.99.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import plugins  # noqa: E402,F401
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

from plugins.deploy import ExportReport, export_binary, load_packed, save_packed  # noqa: E402
from plugins.engine.heap import add_heap_argument, use_heap  # noqa: E402
from tools.benchmark_deploy import interleaved  # noqa: E402
from tools.checkpoint_args import add_checkpoint_args, resolve_checkpoint_args  # noqa: E402
from tools.export_binary import (build_model, jsonable_model_cfg,  # noqa: E402,F401
                                 model_from_args)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_checkpoint_args(p, 'no checkpoint: check the freshly initialised model (tests, demos)')
    p.add_argument('--val-images', type=int, default=16, help='val images to compare on')
    p.add_argument('--threads', type=int, default=1, help='torch and kernel threads')
    p.add_argument('--rounds', type=int, default=5, help='interleaved timing rounds')
    add_heap_argument(p, default='warm')
    p.add_argument('--tol-px', type=float, default=1e-3,
                   help='largest allowed keypoint difference (image pixels)')
    p.add_argument('--min-agreement', type=float, default=1.0,
                   help='smallest accepted fraction of keypoints whose heatmap argmax is '
                   'identical (1.0: every one). A folded BatchNorm rounds differently from '
                   "torch's at values within a few ulps of its threshold, and one flipped sign "
                   'changes the layers after it: on a trained 75-layer hourglass this moves '
                   'about 1 keypoint in 100 (docs/deploy.md); a packing error moves most')
    args = p.parse_args(argv)
    resolve_checkpoint_args(p, args)
    return args


def val_batches(cfg: Config, n: int, batch_size: int = 8):
    """The first ``n`` val samples of the config's val dataset, in batches."""
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    n = min(n, len(dataset))
    for start in range(0, n, batch_size):
        yield pseudo_collate([dataset[i] for i in range(start, min(n, start + batch_size))])


def last_tensor(out):
    while isinstance(out, (list, tuple)):
        out = out[-1]
    return out


def compare_predictions(model, packed, batches) -> dict:
    """Heatmap argmax and decoded keypoints of both models on the same val batches."""
    argmax_equal = argmax_total = 0
    max_px = max_heat = 0.0
    n_images = 0
    with torch.no_grad():
        for batch in batches:
            data = model.data_preprocessor(batch, False)
            heat = [last_tensor(m(data['inputs'], data['data_samples'], mode='tensor'))
                    for m in (model, packed)]
            k = heat[0].flatten(2).argmax(-1)
            argmax_equal += int((k == heat[1].flatten(2).argmax(-1)).sum())
            argmax_total += k.numel()
            max_heat = max(max_heat, float((heat[0] - heat[1]).abs().max()))
            preds = [m.test_step(batch) for m in (model, packed)]
            for a, b in zip(*preds):
                ka = torch.as_tensor(a.pred_instances.keypoints)
                kb = torch.as_tensor(b.pred_instances.keypoints)
                max_px = max(max_px, float((ka - kb).abs().max()))
                n_images += 1
    return dict(images=n_images, argmax_equal=argmax_equal, argmax_total=argmax_total,
                max_keypoint_px=max_px, max_heatmap_diff=max_heat)


def main(argv=None) -> dict:
    args = parse_args(argv)
    heap = use_heap(args.heap)
    torch.set_num_threads(args.threads)
    cfg, model = model_from_args(args)
    report = ExportReport()
    exported = export_binary(model, report=report)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    save_packed(exported, args.out, model_cfg=jsonable_model_cfg(cfg),
                meta=dict(config=osp.abspath(args.config), checkpoint=args.checkpoint))
    print(f'deploy: {report.packed.__len__()} packed binary convs, {len(report.skipped)} kept '
          f'real, {len(report.folded_norms)} BatchNorms folded')
    packed_bytes = os.path.getsize(args.out)
    float_bytes = os.path.getsize(args.checkpoint) if args.checkpoint else None
    size = f'deploy: packed file {packed_bytes / 1e6:.3f} MB -> {args.out}'
    if float_bytes:
        size += f' (float checkpoint {float_bytes / 1e6:.3f} MB, {float_bytes / packed_bytes:.1f}x)'
    print(size)
    packed = load_packed(args.out, expect=model)  # rebuilt from the header's config
    batches = list(val_batches(cfg, args.val_images))
    if not batches:
        raise SystemExit('deploy: the val dataset is empty')
    one = model.data_preprocessor(pseudo_first(batches[0]), False)
    x, samples = one['inputs'], one['data_samples']
    t = interleaved({'float': lambda: model(x, samples, mode='tensor'),
                     'packed': lambda: packed(x, samples, mode='tensor')},
                    args.rounds, warmup=1)
    print(f'deploy: latency of the whole model at batch 1 {tuple(x.shape[1:])}, '
          f'{torch.get_num_threads()} thread(s), {heap}, {args.rounds} interleaved rounds: '
          f'float binary '
          f'{t["float"] * 1e3:.1f} ms, packed {t["packed"] * 1e3:.1f} ms, '
          f'{t["float"] / t["packed"]:.2f}x faster '
          f'(CPU time {t["float cpu"] / t["packed cpu"]:.2f}x)')
    res = compare_predictions(model, packed, batches)
    exact = res['argmax_equal'] == res['argmax_total'] and res['max_keypoint_px'] <= args.tol_px
    agreement = res['argmax_equal'] / res['argmax_total']
    # below 1, a fraction of identical keypoints is accepted; at 1 (default) only exactness
    ok = exact or (args.min_agreement < 1 and agreement >= args.min_agreement)
    verdict = 'EQUAL' if exact else (
        f'EQUAL up to float rounding at folded thresholds (agreement {agreement:.2%} >= '
        f'{args.min_agreement:.0%})' if ok else f'DIFFERENT (agreement {agreement:.2%} < '
        f'{args.min_agreement:.2%})')
    print(f'deploy: predictions on {res["images"]} val images: heatmap argmax identical for '
          f'{res["argmax_equal"]}/{res["argmax_total"]} keypoints, largest keypoint difference '
          f'{res["max_keypoint_px"]:.2e} px (tolerance {args.tol_px:g}), largest heatmap '
          f'difference {res["max_heatmap_diff"]:.2e}: {verdict}')
    res.update(packed_bytes=packed_bytes, float_bytes=float_bytes, ok=ok, exact=exact,
               float_ms=t['float'] * 1e3, packed_ms=t['packed'] * 1e3)
    if not ok:
        raise SystemExit(1)
    return res


def pseudo_first(batch: dict) -> dict:
    """The first sample of a collated batch, as a batch of one."""
    return {k: v[:1] for k, v in batch.items()}


if __name__ == '__main__':
    main()
