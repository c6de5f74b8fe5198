"""Evaluate a checkpoint on a config's test set (MMPose's ``tools/test.py`` semantics).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out metrics.json]
                         [--show-dir DIR] [--cfg-options k=v ...]
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import plugins  # noqa: E402,F401  (compatibility layer + registries)
from plugins.engine.config_rebind import (  # noqa: E402
    check_data_roots, load_config, merge_cfg_options)
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from plugins.engine import check_checkpoint_matches, check_data_cfg  # noqa: E402
from tools.runner_args import (add_runner_args, apply_process_args,  # noqa: E402
                               end_process_group, exit_launched_worker,
                               set_work_dir)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation results')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--show-dir', help='save pictures of the predictions in this dir '
                        '(relative to the work dir\'s timestamped folder)')
    parser.add_argument('--interval', type=int, default=1, help='visualise every n-th sample')
    add_runner_args(parser)
    return parser.parse_args(argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    set_work_dir(cfg, args)
    cfg.load_from = args.checkpoint
    if args.show_dir is not None:
        vis = cfg.get('default_hooks', {}).get('visualization')
        if vis is None:
            raise ValueError('--show-dir needs a `visualization` hook in default_hooks '
                             '(e.g. dict(type="PoseVisualizationHook"))')
        vis.update(enable=True, out_dir=args.show_dir, interval=args.interval)
    if args.cfg_options is not None:
        merge_cfg_options(cfg, args.cfg_options)
    check_data_roots(cfg)
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') == 'ProgressHook' for h in hooks):
        cfg.custom_hooks = hooks + [dict(type='ProgressHook')]  # a bar over the test batches
    return cfg


def main(argv=None) -> dict:
    args = parse_args(argv)
    apply_process_args(args)
    cfg = merge_args(load_config(args.config), args)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    if not args.skip_data_check:
        check_data_cfg(cfg, ('test_dataloader', ))
    runner = Runner.from_cfg(cfg)
    check_checkpoint_matches(runner.model, args.checkpoint, min_fraction=1.0)
    metrics = runner.test()
    if runner.rank == 0:
        print('metrics: ' + json.dumps(metrics, default=float))
        out = args.out or osp.join(cfg.work_dir, 'metrics.json')
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(metrics, f, indent=2, default=float)
    return metrics


if __name__ == '__main__':
    main()
    end_process_group()
    exit_launched_worker()
