"""The alternating generator/discriminator training step shared by both stages.

"To learn image super-resolution, use a GAN to learn how to do image degradation first"
(Bulat et al., 2018) trains each stage as a GAN whose generator minimises
``alpha * l_pixel + beta * l_GAN`` (``alpha = 1``, ``beta = 0.05``, L2 pixel loss, hinge GAN
loss) and whose discriminator minimises the hinge loss. :class:`AlternatingGAN` holds the
sub-networks ``generator`` and ``discriminator`` and runs, per iteration, one discriminator
update then (every ``disc_steps`` iterations) one generator update, with the optimiser of each
network taken from the :class:`~mmengine.optim.OptimWrapperDict` that
:class:`~plugins.sr.optim_constructor.SubnetOptimWrapperConstructor` builds.

A stage defines what the generator sees and what it is compared with (:meth:`generator_input`,
:meth:`pixel_target`, :meth:`real_samples`). Images enter the model in [0, 1] (the datasets'
range) and the networks work in [-1, 1].
"""
from __future__ import annotations

from typing import Any

import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmengine.registry import MODELS
from torch import nn
from torch.nn import functional as F

from .losses import hinge_discriminator_loss, hinge_generator_loss

__all__ = ['AlternatingGAN', 'to_net', 'from_net']


def to_net(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return images * 2.0 - 1.0


def from_net(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clamped."""
    return ((images + 1.0) / 2.0).clamp(0.0, 1.0)


def _set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


class AlternatingGAN(BaseModel):
    """Base of the two stage models: a generator, a discriminator and the alternating step.

    Args:
        generator: config of the generator (built from mmengine's ``MODELS``).
        discriminator: config of the discriminator.
        pixel_weight: ``alpha``, weight of the L2 pixel loss (1 in the paper).
        adv_weight: ``beta``, weight of the generator's hinge loss (0.05 in the paper).
        disc_steps: discriminator updates per generator update (1: alternate every iteration).
        data_preprocessor: mmengine data preprocessor config (moves data to the device).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 generator: dict,
                 discriminator: dict,
                 pixel_weight: float = 1.0,
                 adv_weight: float = 0.05,
                 disc_steps: int = 1,
                 data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if pixel_weight < 0 or adv_weight < 0 or pixel_weight + adv_weight == 0:
            raise ValueError(f'need pixel_weight >= 0, adv_weight >= 0, not both 0; got '
                             f'{pixel_weight}, {adv_weight}')
        if disc_steps < 1:
            raise ValueError(f'disc_steps must be >= 1, got {disc_steps}')
        self.generator = MODELS.build(generator)
        self.discriminator = MODELS.build(discriminator)
        self.pixel_weight, self.adv_weight, self.disc_steps = pixel_weight, adv_weight, disc_steps
        self._step = 0

    # --- what a stage defines -------------------------------------------------------------
    def generate(self, data: dict, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Generator output in [-1, 1] for a batch ``data`` (tensors in [0, 1])."""
        raise NotImplementedError

    def pixel_target(self, data: dict) -> torch.Tensor:
        """Target of the pixel loss, in [-1, 1], same shape as :meth:`generate`'s output."""
        raise NotImplementedError

    def real_samples(self, data: dict) -> torch.Tensor:
        """Real images the discriminator must accept, in [-1, 1]."""
        raise NotImplementedError

    # --- training -------------------------------------------------------------------------
    def train_step(self, data: dict, optim_wrapper: OptimWrapperDict) -> dict[str, torch.Tensor]:
        """One discriminator update, then one generator update every ``disc_steps`` calls.

        Args:
            data: a batch from the dataloader (dict of tensors in [0, 1]).
            optim_wrapper: ``OptimWrapperDict`` with keys ``generator`` and ``discriminator``.

        Returns:
            log variables: ``loss_disc``, ``disc_real``, ``disc_fake`` and, on generator steps,
            ``loss_pixel``, ``loss_adv``, ``loss_gen``.
        """
        for key in ('generator', 'discriminator'):
            if key not in optim_wrapper:
                raise KeyError(f'{type(self).__name__}.train_step needs an optim wrapper for '
                               f"'{key}'; got {list(optim_wrapper.keys())}. Use "
                               f"optim_wrapper=dict(constructor='SubnetOptimWrapperConstructor', "
                               f'generator=dict(...), discriminator=dict(...))')
        data = self.data_preprocessor(data, True)
        log: dict[str, torch.Tensor] = {}

        # discriminator: hinge loss on real vs generated (generator frozen)
        d_wrapper = optim_wrapper['discriminator']
        _set_requires_grad(self.discriminator, True)
        with d_wrapper.optim_context(self.discriminator):
            with torch.no_grad():
                fake = self.generate(data)
            real_scores = self.discriminator(self.real_samples(data))
            fake_scores = self.discriminator(fake)
            loss_disc = hinge_discriminator_loss(real_scores, fake_scores)
        d_wrapper.update_params(loss_disc)
        log.update(loss_disc=loss_disc.detach(), disc_real=real_scores.detach().mean(),
                   disc_fake=fake_scores.detach().mean())

        self._step += 1
        if self._step % self.disc_steps == 0:
            g_wrapper = optim_wrapper['generator']
            _set_requires_grad(self.discriminator, False)
            with g_wrapper.optim_context(self.generator):
                fake = self.generate(data)
                loss_pixel = F.mse_loss(fake, self.pixel_target(data))
                loss_adv = hinge_generator_loss(self.discriminator(fake))
                loss_gen = self.pixel_weight * loss_pixel + self.adv_weight * loss_adv
            g_wrapper.update_params(loss_gen)
            _set_requires_grad(self.discriminator, True)
            log.update(loss_pixel=loss_pixel.detach(), loss_adv=loss_adv.detach(),
                       loss_gen=loss_gen.detach())
        return log

    # --- inference ------------------------------------------------------------------------
    def forward(self, inputs: Any = None, data_samples: Any = None, mode: str = 'tensor',
                **data: Any) -> Any:
        """mmengine entry point.

        ``val_step``/``test_step`` call ``forward(**batch, mode='predict')`` with the batch keys
        as keyword arguments. ``mode='tensor'`` returns the generator output in [0, 1];
        ``mode='predict'`` returns one dict per sample (see :meth:`predict`).
        """
        if inputs is not None:
            data['inputs'] = inputs
        if mode == 'tensor':
            return from_net(self.generate(data))
        if mode == 'predict':
            return self.predict(data)
        raise ValueError(f"mode must be 'tensor' or 'predict' (training uses train_step), "
                         f'got {mode!r}')

    def predict(self, data: dict) -> list[dict]:
        """One dict per sample: ``pred`` (generated image in [0, 1]) plus the stage's
        references (``gt`` for paired data, ``real`` for the distribution distance)."""
        raise NotImplementedError

    def val_step(self, data: dict) -> list:
        data = self.data_preprocessor(data, False)
        with torch.no_grad():
            return self.predict(data)

    test_step = val_step
