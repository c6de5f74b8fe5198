"""Train a model from an OpenMMLab config (MMPose's ``tools/train.py`` semantics).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--cfg-options k=v ...]
    bash tools/dist_train.sh CONFIG NPROC [...]        # same, through mmengine's DDP launch
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import plugins  # noqa: E402,F401  (compatibility layer + registries)
from plugins.engine.config_rebind import (  # noqa: E402
    check_data_roots, load_config, merge_cfg_options)
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner, find_latest_checkpoint  # noqa: E402

from plugins.engine import check_checkpoint_matches, check_data_cfg  # noqa: E402
from tools.runner_args import (add_runner_args, apply_process_args,  # noqa: E402
                               end_process_group, exit_launched_worker,
                               set_work_dir)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; without a path, from the latest checkpoint in the '
        'work dir')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the actual batch size')
    add_runner_args(parser)
    return parser.parse_args(argv)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge command-line arguments into the config, as MMPose's tool does."""
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    set_work_dir(cfg, args)
    if args.amp:
        if 'optimizer' not in cfg.optim_wrapper:
            raise ValueError('--amp handles a config with one optimiser (optim_wrapper.optimizer);'
                             ' for several, set type="AmpOptimWrapper" per wrapper in the config')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        merge_cfg_options(cfg, args.cfg_options)
    check_data_roots(cfg)
    return cfg


def main(argv=None) -> Runner:
    args = parse_args(argv)
    apply_process_args(args)
    cfg = merge_args(load_config(args.config), args)
    if not args.skip_data_check:
        used = ('train_dataloader', ) + (('val_dataloader', ) if cfg.get('val_cfg') is not None
                                         else ())
        check_data_cfg(cfg, used)
    runner = Runner.from_cfg(cfg)
    ckpt = cfg.get('load_from')
    if cfg.get('resume') and not ckpt:
        ckpt = find_latest_checkpoint(cfg.work_dir)
    if ckpt and osp.isfile(ckpt):
        check_checkpoint_matches(runner.model, ckpt, exact=bool(cfg.get('resume')))
    elif ckpt:
        raise FileNotFoundError(f'checkpoint {ckpt} (load_from/--resume) does not exist')
    runner.train()
    return runner


if __name__ == '__main__':
    main()
    end_process_group()
    exit_launched_worker()
