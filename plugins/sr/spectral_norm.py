"""Spectral normalisation of every convolution and linear layer of a network.

"Spectral Normalization for Generative Adversarial Networks" (Miyato et al., 2018) divides each
weight by its largest singular value (estimated with one power iteration per forward pass in
training mode), which makes the layer 1-Lipschitz. "To learn image super-resolution, use a GAN
to learn how to do image degradation first" (Bulat et al., 2018) trains both of its GANs with the
hinge loss and spectrally normalised discriminators.
"""
from __future__ import annotations

from torch import nn

__all__ = ['add_spectral_norm', 'has_spectral_norm']

_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)


def add_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Wrap the ``weight`` of every conv/linear layer in ``module`` with spectral norm (in place).

    Uses :func:`torch.nn.utils.spectral_norm` (the hook implementation: the state dict holds
    ``weight_orig``, ``weight_u`` and ``weight_v``). Layers that already have it are skipped.

    Args:
        module: network whose layers are wrapped.
        n_power_iterations: power iterations per training forward pass.

    Returns:
        ``module`` itself.
    """
    if n_power_iterations < 1:
        raise ValueError(f'n_power_iterations must be >= 1, got {n_power_iterations}')
    for layer in module.modules():
        if isinstance(layer, _LAYERS) and not has_spectral_norm(layer):
            nn.utils.spectral_norm(layer, n_power_iterations=n_power_iterations)
    return module


def has_spectral_norm(layer: nn.Module) -> bool:
    """Whether ``layer`` carries a spectral-norm hook on its ``weight``."""
    return any(type(hook).__name__ == 'SpectralNorm' for hook in layer._forward_pre_hooks.values())
