"""Read one sub-network's weights out of an mmengine training checkpoint.

The second stage of "To learn image super-resolution, use a GAN to learn how to do image
degradation first" (Bulat et al., 2018) produces its LR inputs with the first stage's trained
High-to-Low generator; :func:`load_submodule_weights` takes the ``generator.*`` entries of the
first stage's checkpoint. The tools use it to take the Low-to-High generator out of a stage-2
checkpoint.
"""
from __future__ import annotations

import os.path as osp

from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

__all__ = ['resolve_checkpoint', 'load_submodule_weights', 'load_trained_generator']


def resolve_checkpoint(path: str) -> str:
    """A checkpoint file, or a work dir whose ``last_checkpoint`` file names one (looked up in
    the work dir itself when the recorded path no longer exists, e.g. after a copy).

    Raises:
        FileNotFoundError: neither a file nor a work dir with a ``last_checkpoint`` record.
    """
    path = osp.expanduser(path)
    if osp.isdir(path):
        record = osp.join(path, 'last_checkpoint')
        if not osp.isfile(record):
            raise FileNotFoundError(f'work dir {path} has no last_checkpoint record (has the '
                                    f'training run saved a checkpoint yet?)')
        with open(record) as f:
            recorded = f.read().strip()
        # the record holds the path at training time; follow it into a moved/copied work dir
        moved = osp.join(path, osp.basename(recorded))
        path = recorded if osp.isfile(recorded) or not osp.isfile(moved) else moved
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist; train the first stage first '
                                f'(e.g. python tools/train.py configs/sr/high_to_low_faces64.py) '
                                f'or point to its .pth file / work dir')
    return path


def load_submodule_weights(module: nn.Module, checkpoint: str, prefix: str = 'generator.') -> str:
    """Load the ``prefix``-ed entries of a checkpoint's ``state_dict`` into ``module`` (strict).

    Args:
        module: network to fill, e.g. a freshly built :class:`HighToLowGenerator`.
        checkpoint: ``.pth`` file or work dir (see :func:`resolve_checkpoint`).
        prefix: key prefix of the sub-network in the checkpoint.

    Returns:
        the checkpoint file that was read.

    Raises:
        KeyError: no key starts with ``prefix``.
        ValueError: the keys or shapes do not match ``module`` (different architecture config).
    """
    path = resolve_checkpoint(checkpoint)
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not state:
        raise KeyError(f'checkpoint {path} has no weights under {prefix!r}')
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f'weights {prefix!r} of checkpoint {path} do not fit '
                         f'{type(module).__name__}: the network config differs from the one that '
                         f'was trained ({str(err).splitlines()[0]} ...)') from err
    return path


def load_trained_generator(config: str, checkpoint: str) -> nn.Module:
    """Build ``model.generator`` of a stage config and fill it from a checkpoint of that stage.

    Args:
        config: path of the stage config (``configs/sr/*.py``).
        checkpoint: ``.pth`` file or work dir of a run of that config.

    Returns:
        the generator, in eval mode.
    """
    from mmengine.config import Config
    from mmengine.registry import MODELS

    cfg = Config.fromfile(config)
    generator = MODELS.build(cfg.model.generator)
    load_submodule_weights(generator, checkpoint, 'generator.')
    return generator.eval()
