#!/usr/bin/env python
"""Print the per-layer complexity table of a model: FLOPs, BOPs, real/binary parameters, the
packed size and the papers' ``FLOPs + BOPs/64``.

Examples::

    python tools/analysis/complexity.py configs/pose/binary_hg_mpii.py --input-shape 1 3 256 256
    python tools/analysis/complexity.py --timm resnet18 --input-shape 1 3 224 224 \
        --binarize '{"conv": {"type": "BinaryConv2d", "scale": "learned"}}'
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import torch  # noqa: E402

import plugins  # noqa: E402,F401
from plugins.engine.config_rebind import load_config, merge_cfg_options  # noqa: E402
from plugins.analysis import complexity  # noqa: E402


def build_from_config(path: str, cfg_options: dict | None):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    cfg = load_config(path)
    if cfg_options:
        merge_cfg_options(cfg, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_cfg = cfg.model.copy()
    model_cfg.pop('data_preprocessor', None)
    return MODELS.build(model_cfg)


def run_forward(model, x):
    """``model(x)``, or the tensor mode of an mmengine ``BaseModel``."""
    from mmengine.model import BaseModel
    if isinstance(model, BaseModel):
        return model(x, None, mode='tensor')
    return model(x)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', nargs='?', help='an OpenMMLab config file')
    p.add_argument('--timm', help='a timm model name instead of a config (pretrained=False)')
    p.add_argument('--input-shape', type=int, nargs='+', default=[1, 3, 256, 256])
    p.add_argument('--binarize', help='JSON cfg of plugins.binary.binarize applied first')
    p.add_argument('--max-rows', type=int, default=None, help='print at most this many rows')
    p.add_argument('--json', action='store_true', help='print the totals as JSON too')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override config entries (values parsed as Python/JSON literals)')
    args = p.parse_args(argv)
    if bool(args.config) == bool(args.timm):
        p.error('give exactly one of CONFIG or --timm NAME')
    return args


def _options(pairs):
    import ast
    out = {}
    for pair in pairs:
        key, _, value = pair.partition('=')
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.timm:
        import timm
        model = timm.create_model(args.timm, pretrained=False)
    else:
        model = build_from_config(args.config, _options(args.cfg_options))
    if args.binarize:
        from plugins.binary import binarize
        binarize(model, json.loads(args.binarize))
    report = complexity(model, args.input_shape, forward=run_forward)
    print(report.table(args.max_rows))
    if args.json:
        print(json.dumps(report.as_dict()))
    return report.as_dict()


if __name__ == '__main__':
    main()
