"""Check that a checkpoint belongs to a model before mmengine loads it."""
from __future__ import annotations

import torch

from ..compat import CheckpointError, load_local_checkpoint

__all__ = ['CheckpointMismatchError', 'check_checkpoint_matches']


class CheckpointMismatchError(CheckpointError):
    """The checkpoint's weights do not fit the model."""


def _strip(key: str) -> str:
    return key[len('module.'):] if key.startswith('module.') else key


def check_checkpoint_matches(model: torch.nn.Module, filename: str, exact: bool = False,
                             min_fraction: float = 0.5) -> float:
    """Compare a checkpoint's state dict with a model's.

    mmengine loads a mismatched checkpoint with warnings only, so a wrong ``load_from`` trains
    from scratch silently. This raises instead, unless the checkpoint plausibly belongs to the
    model (fine-tuning with a new head is allowed).

    Args:
        model: the model (unwrapped or DDP-wrapped).
        filename: a local checkpoint path.
        exact: require every tensor to match (as resuming does).
        min_fraction: smallest fraction of the model's tensors that the checkpoint must
            provide with the same shape.

    Returns:
        The fraction of the model's tensors matched.

    Raises:
        CheckpointMismatchError: naming the file and the first mismatches.
    """
    if hasattr(model, 'module'):
        model = model.module
    ckpt = load_local_checkpoint(filename, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise CheckpointMismatchError(f'checkpoint {filename} holds no state dict')
    state = {_strip(k): v for k, v in state.items()}
    own = model.state_dict()
    # a zero-size model tensor is a lazily shaped parameter (e.g. a learned scale whose size
    # depends on the output resolution): it takes the checkpoint's shape when loaded
    shape_bad = [(k, tuple(state[k].shape), tuple(v.shape)) for k, v in own.items()
                 if k in state and hasattr(state[k], 'shape') and v.numel() > 0
                 and state[k].shape != v.shape]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    matched = len(own) - len(missing) - len(shape_bad)
    fraction = matched / max(len(own), 1)
    problem = (exact and (shape_bad or missing or unexpected)) or fraction < min_fraction
    if problem:
        lines = [f'checkpoint {filename} does not match the model '
                 f'({type(model).__name__}): {matched} of {len(own)} model tensors match']
        lines += [f'  shape of {k}: checkpoint {a} vs model {b}' for k, a, b in shape_bad[:5]]
        lines += [f'  missing in checkpoint: {k}' for k in missing[:3]]
        lines += [f'  not in model: {k}' for k in unexpected[:3]]
        raise CheckpointMismatchError('\n'.join(lines))
    return fraction
