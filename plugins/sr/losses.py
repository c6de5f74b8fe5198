"""Losses of the High-to-Low and Low-to-High GANs: hinge adversarial loss and L2 pixel loss.

"To learn image super-resolution, use a GAN to learn how to do image degradation first"
(Bulat et al., 2018), Sec. 3.4: each generator minimises ``alpha * l_pixel + beta * l_GAN`` with
``alpha = 1``, ``beta = 0.05``, an L2 pixel loss and the hinge GAN loss of "Spectral
Normalization for Generative Adversarial Networks" (Miyato et al., 2018):

* discriminator: ``E[max(0, 1 - D(real))] + E[max(0, 1 + D(fake))]``
* generator: ``-E[D(fake)]``
"""
from __future__ import annotations

import torch
from mmengine.registry import MODELS
from torch import nn
from torch.nn import functional as F

__all__ = ['HingeGANLoss', 'hinge_discriminator_loss', 'hinge_generator_loss']


def hinge_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``; scores (B, ), returns a scalar."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``-mean(D(fake))``; scores (B, ), returns a scalar."""
    return -fake_scores.mean()


@MODELS.register_module()
class HingeGANLoss(nn.Module):
    """Hinge GAN loss as a module (``type='HingeGANLoss'`` in a config).

    ``loss(fake_scores)`` is the generator loss; ``loss(fake_scores, real_scores)`` the
    discriminator loss.
    """

    def forward(self, fake_scores: torch.Tensor,
                real_scores: torch.Tensor | None = None) -> torch.Tensor:
        if real_scores is None:
            return hinge_generator_loss(fake_scores)
        return hinge_discriminator_loss(real_scores, fake_scores)
