"""Two-stage training of a binary network ("Improved training of binary networks for human
pose estimation and image recognition", Bulat et al., 2019, "reverse-order initialisation"):
stage 1 trains the network with binary activations and *real* weights; stage 2 binarises the
weights too, starting from the stage-1 weights (the binary weights are ``sign(W)`` of the
stage-1 ``W``). The bnn toolkit's XNOR-Net++ recipe (1adrianb/binary-networks-pytorch,
``examples/recepies/xnor-net-plus.yaml``) has the same two steps.

The model config is the final binary network; :class:`TwoStageBinarizationHook` makes its
binary layers use real weights until ``switch`` (an iteration/epoch, or a fraction of the
run), then restores their weight quantisers. With ``rescale=True`` a learned output scale is
multiplied once, at the switch, by ``mean |W_o|`` of each output channel, so that
``alpha * sign(W)`` starts at the magnitude of ``alpha * W`` (the bnn recipe gets this from
XNOR-Net's analytic factor in its stage-2 weight binariser).

Config (one run does both stages)::

    custom_hooks = [dict(type='TwoStageBinarizationHook', switch=0.5, by='iter')]
"""
from __future__ import annotations

from typing import List

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch import Tensor, nn

from .binary_conv import _BinaryMixin
from .scaling import LearnedScale, xnor_weight_factor
from .schedule import Point, check_point, check_unit, current_time, resolve_point

META_KEY = 'two_stage_switched'


class RealWeightStage(nn.Module):
    """Stand-in weight quantiser of stage 1: the identity, holding the real quantiser, whose
    buffers it shares so that checkpoints have the same keys in both stages.

    Args:
        quantizer: the weight quantiser restored at the switch.
    """

    binary = False

    def __init__(self, quantizer: nn.Module) -> None:
        super().__init__()
        object.__setattr__(self, 'quantizer', quantizer)  # not a submodule: keys unchanged
        self._buffers = quantizer._buffers
        self._parameters = quantizer._parameters

    def forward(self, x: Tensor) -> Tensor:
        return x


def binary_layers_of(model: nn.Module) -> List[nn.Module]:
    if is_model_wrapper(model):
        model = model.module
    return [m for m in model.modules() if isinstance(m, _BinaryMixin)]


@torch.no_grad()
def fold_weight_magnitude(layer: nn.Module) -> bool:
    """Multiply a learned output scale by ``mean |W_o|`` per output channel (``alpha`` of the
    channel/rank1/channel_spatial shapes, ``Gamma`` of chw). Returns whether it did."""
    s = layer.scaling
    if not isinstance(s, LearnedScale):
        return False
    m = xnor_weight_factor(layer.real_weight())
    if s.shape == 'chw':
        if s.out_size is None:
            return False
        s.gamma.mul_(m.view(-1, 1, 1))
    else:
        s.alpha.mul_(m)
    return True


@HOOKS.register_module()
class TwoStageBinarizationHook(Hook):
    """Real weights (binary activations) before ``switch``, binary weights from it on.

    Args:
        switch: first iteration/epoch of stage 2 (int), or a fraction of the run (float).
        by: ``'iter'`` or ``'epoch'``.
        rescale: at the switch, fold ``mean |W_o|`` into learned output scales.
    """

    priority = 'HIGH'  # before ProgressiveBinarizationHook & co. of the same iteration

    def __init__(self, switch: Point = 0.5, by: str = 'iter', rescale: bool = True) -> None:
        check_unit(by, 'TwoStageBinarizationHook')
        check_point(switch, 'TwoStageBinarizationHook switch')
        self.switch, self.by, self.rescale = switch, by, rescale
        self.switched = False

    def stage(self, t: int, switch: int) -> int:
        return 1 if t < switch else 2

    def apply(self, model: nn.Module, stage: int) -> int:
        """Put the binary layers of ``model`` into ``stage`` (1 or 2); at the first move to 2,
        fold the weight magnitude into the scales (``rescale``). Returns the layers changed."""
        layers = binary_layers_of(model)
        if not layers:
            raise ValueError('TwoStageBinarizationHook: the model has no binary layers (build '
                             'it with conv_cfg=dict(type="BinaryConv2d") or binarize())')
        changed = 0
        for m in layers:
            q = m.weight_quantizer
            if stage == 1 and not isinstance(q, RealWeightStage):
                m.weight_quantizer = RealWeightStage(q)
                changed += 1
            elif stage == 2 and isinstance(q, RealWeightStage):
                m.weight_quantizer = q.quantizer
                changed += 1
        if stage == 2 and not self.switched:
            if self.rescale:
                for m in layers:
                    fold_weight_magnitude(m)
            self.switched = True
        return changed

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        switch = resolve_point(self.switch, runner, self.by)
        stage = self.stage(current_time(runner, self.by), switch)
        if switch == 0:
            self.switched = True  # no stage 1: nothing to fold
        if self.apply(runner.model, stage) and stage == 2:
            runner.logger.info(f'TwoStageBinarizationHook: stage 2 (binary weights from the '
                               f'stage-1 weights) from {self.by} {switch}')

    def after_train(self, runner) -> None:
        if not self.switched:
            runner.logger.warning('TwoStageBinarizationHook: training ended in stage 1 (real '
                                  f'weights); the switch ({self.switch!r}) was never reached')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[META_KEY] = self.switched

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.switched = bool(checkpoint.get('meta', {}).get(META_KEY, False))
