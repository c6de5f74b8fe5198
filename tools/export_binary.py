"""Export a trained binary model to a bit-packed inference file and print its sizes.

    python tools/export_binary.py CONFIG CHECKPOINT [--out model.bnn] [--check]
                                  [--input-size H W] [--cfg-options k=v ...]
    python tools/export_binary.py CONFIG --random-init --out demo.bnn   # no checkpoint: demo

Every ``BinaryConv2d`` of the model is replaced by a ``PackedBinaryConv2d`` (1 bit per weight in
64-bit words plus its fused scale); real layers (stem, heads, norms) are kept. ``--check`` runs
a random input through the float (fake-binarised) and the packed model and prints the largest
difference. Load the file with ``plugins.deploy.load_packed(path)``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import plugins  # noqa: E402,F401  (compatibility layer + registries)
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

from plugins.deploy import (
    ExportReport,
    export_binary,
    load_packed,
    save_packed,  # noqa: E402
    size_report)
from plugins.engine.progress import Progress  # noqa: E402
from tools.checkpoint_args import add_checkpoint_args, resolve_checkpoint_args  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Export a binary model to a packed file')
    add_checkpoint_args(p, 'no checkpoint: export the freshly initialised model (demo, tests)')
    p.add_argument('--check',
                   action='store_true',
                   help='compare float and packed outputs on a random input')
    p.add_argument('--input-size',
                   type=int,
                   nargs=2,
                   metavar=('H', 'W'),
                   help='input size for --check (default: the codec input size or 256 256)')
    args = p.parse_args(argv)
    resolve_checkpoint_args(p, args)
    return args


def build_model(cfg: Config) -> torch.nn.Module:
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return MODELS.build(cfg.model)


def load_weights(model: torch.nn.Module, checkpoint: str) -> None:
    from plugins.compat import load_local_checkpoint
    from plugins.engine import check_checkpoint_matches
    check_checkpoint_matches(model, checkpoint, min_fraction=1.0)
    ckpt = load_local_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    model.load_state_dict(state, strict=True)


def jsonable_model_cfg(cfg: Config):
    """``cfg.model`` as JSON data for the packed file's header, or None if it holds objects
    (then ``load_packed`` needs the model: ``load_packed(path, model=...)``)."""
    import json
    try:
        return json.loads(json.dumps(cfg.model.to_dict()))
    except (TypeError, ValueError):
        return None


def forward_tensor(model: torch.nn.Module, x: torch.Tensor):
    from mmengine.model import BaseModel
    out = model(x, None, mode='tensor') if isinstance(model, BaseModel) else model(x)
    return out if isinstance(out, (tuple, list)) else [out]


def input_size(cfg: Config, args) -> tuple:
    if args.input_size:
        return tuple(args.input_size)
    codec = cfg.get('codec') or {}
    if 'input_size' in codec:  # MMPose codecs give (W, H)
        w, h = codec['input_size']
        return (h, w)
    return (256, 256)


def model_from_args(args: argparse.Namespace) -> tuple:
    """``(cfg, model)``: CONFIG with ``--cfg-options``, its model with CHECKPOINT's weights
    (none with ``--random-init``), in eval mode."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg)
    if args.checkpoint:
        load_weights(model, args.checkpoint)
    model.eval()
    return cfg, model


def main(argv=None) -> dict:
    args = parse_args(argv)
    steps = ['load model', 'pack', 'write file'] + (['check'] if args.check else [])
    with Progress(total=len(steps), desc='export_binary', unit='step') as progress:
        return _export(args, progress)


def _export(args: argparse.Namespace, progress: Progress) -> dict:
    cfg, model = model_from_args(args)
    progress.update()
    report = ExportReport()
    packed = export_binary(model, report=report)
    progress.update()
    print(report)
    meta = dict(config=osp.abspath(args.config),
                checkpoint=args.checkpoint and osp.abspath(args.checkpoint),
                random_init=bool(args.random_init))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    save_packed(packed, args.out, meta=meta, model_cfg=jsonable_model_cfg(cfg))
    progress.update()
    sizes = size_report(model, args.out, float_checkpoint=args.checkpoint)
    what = 'float checkpoint file' if args.checkpoint else 'float state dict'
    print(f'{what}: {sizes["float_bytes"] / 1e6:.3f} MB')
    print(f'packed file:  {sizes["packed_file_bytes"] / 1e6:.3f} MB '
          f'({sizes["ratio"]:.1f}x smaller) -> {args.out}')
    print(f'  {sizes["binary_params"]} binary weights (1 bit), {sizes["real_params"]} real '
          f'values (32 bit): {sizes["packed_bytes"] / 1e6:.3f} MB of tensors')
    if args.check:
        loaded = load_packed(args.out, model=build_model(cfg), expect=model)
        h, w = input_size(cfg, args)
        x = torch.randn(1, 3, h, w)
        with torch.no_grad():
            ref, out = forward_tensor(model, x), forward_tensor(loaded, x)
        diff = max(float((r - o).abs().max()) for r, o in zip(ref, out))
        scale = max(float(r.abs().max()) for r in ref)
        print(f'check on a random {h}x{w} input: max |float - packed| = {diff:.3g} '
              f'(output max {scale:.3g})')
        sizes['max_abs_diff'] = diff
        progress.update()
    return sizes


if __name__ == '__main__':
    main()
