"""Command-line arguments of the tools that take a model as CONFIG + CHECKPOINT and write a
packed file (tools/export_binary.py, tools/deploy_check.py)."""
import argparse
import os.path as osp

from mmengine.config import DictAction


def add_checkpoint_args(parser: argparse.ArgumentParser, random_init_help: str) -> None:
    """``CONFIG``, ``[CHECKPOINT]``, ``--random-init``, ``--out`` and ``--cfg-options``."""
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', nargs='?', help='trained checkpoint (.pth)')
    parser.add_argument('--random-init', action='store_true', help=random_init_help)
    parser.add_argument('--out', help='packed file (default: CHECKPOINT with .bnn suffix)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, as key=value pairs')


def resolve_checkpoint_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Require a CHECKPOINT or ``--random-init``; ``--out`` defaults to CHECKPOINT.bnn.

    Exits through ``parser.error`` (status 2, with the usage) when neither is given, or when
    ``--random-init`` has no ``--out``.
    """
    if args.checkpoint is None and not args.random_init:
        parser.error('give a CHECKPOINT, or --random-init to use the untrained model')
    if args.out is None:
        if args.checkpoint is None:
            parser.error('--out is required with --random-init')
        args.out = osp.splitext(args.checkpoint)[0] + '.bnn'
