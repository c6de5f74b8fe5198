"""Initialise a binary network from a trained real-valued one ("Improved training of binary
networks for human pose estimation and image recognition", Bulat et al., 2019).

:func:`init_from_real` copies every tensor of the real model into the binary model by name; for
a binary layer, the real ``weight`` goes through
:meth:`~plugins.binary.BinaryConv2d.load_real_weight` (decomposed into the latent factors when
the layer is latent). Combined with :class:`ProgressiveBinarizationHook` (``order='reverse'``)
the layers then turn binary from the last to the first. From a config::

    custom_hooks = [dict(type='RealToBinaryInitHook', checkpoint='work_dirs/real/epoch_50.pth'),
                    dict(type='ProgressiveBinarizationHook', end=2000, order='reverse')]
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Union

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import Tensor, nn

from .binary_conv import _BinaryMixin


@torch.no_grad()
def init_from_real(binary_model: nn.Module,
                   real: Union[nn.Module, Mapping[str, Tensor]],
                   strict: bool = False) -> Dict[str, List[str]]:
    """Copy a real model's weights into a binary model with the same module names.

    Args:
        binary_model: the model with binary layers.
        real: the real model or its state dict (a checkpoint's ``state_dict``).
        strict: raise if a tensor of the binary model has no source.

    Returns:
        ``dict(copied=[...], missing=[...], skipped=[...])`` (tensor names; skipped: shape
        mismatch or no target).
    """
    src = dict(real.state_dict() if isinstance(real, nn.Module) else real)
    copied, skipped = [], []
    done = set()
    for name, m in binary_model.named_modules():
        if not isinstance(m, _BinaryMixin):
            continue
        prefix = f'{name}.' if name else ''
        w = src.get(prefix + 'weight')
        if w is None:
            continue
        b = src.get(prefix + 'bias')
        if tuple(w.shape) != tuple(m.real_weight().shape):
            skipped.append(prefix + 'weight')
            continue
        m.load_real_weight(w, b)
        done.update({prefix + 'weight', prefix + 'bias'})
        copied.append(prefix + 'weight')
        if b is not None and m.bias is not None:
            copied.append(prefix + 'bias')
    own = binary_model.state_dict()
    for key, value in src.items():
        if key in done:
            continue
        if key in own and own[key].shape == value.shape:
            own[key].copy_(value)
            copied.append(key)
        else:
            skipped.append(key)
    binary_prefixes = tuple(f'{n}.' for n, m in binary_model.named_modules()
                            if isinstance(m, _BinaryMixin))
    missing = [
        k for k in own if k not in copied and not (k.startswith(binary_prefixes) and (
            '.scaling.' in k or '.latent.' in k or '.post_act.' in k))
    ]
    if strict and missing:
        raise KeyError(f'init_from_real: no source for {missing[:10]}')
    return dict(copied=copied, missing=missing, skipped=skipped)


@HOOKS.register_module()
class RealToBinaryInitHook(Hook):
    """Before training, initialise the (binary) model from a real-valued checkpoint.

    Args:
        checkpoint: path of the real model's checkpoint (mmengine format or a state dict).
        strict: see :func:`init_from_real`.
    """

    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: str, strict: bool = False) -> None:
        self.checkpoint = checkpoint
        self.strict = strict

    def before_train(self, runner) -> None:
        if runner._resume or getattr(runner, '_has_loaded', False):
            return  # resuming: the binary weights come from the resumed checkpoint
        from mmengine.runner.checkpoint import _load_checkpoint
        ckpt = _load_checkpoint(self.checkpoint, map_location='cpu')
        state = ckpt.get('state_dict', ckpt)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        report = init_from_real(model, state, self.strict)
        runner.logger.info(f'RealToBinaryInitHook: copied {len(report["copied"])} tensors from '
                           f'{self.checkpoint}; {len(report["missing"])} without source')
