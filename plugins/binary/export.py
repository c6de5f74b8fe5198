"""Inference form of binary models: keep only sign weights and fused scales.

* :func:`export_binary_state` returns, for every binary layer, its ``export()`` dict
  (``weight_sign`` int8 {-1, +1}, ``scale``, ``bias``, geometry ...), for packing by
  ``plugins.deploy``.
* :func:`materialize` calls ``materialize()`` on every binary layer in place (drops latent
  factors and real weights; the forward is unchanged).
"""
from __future__ import annotations

from typing import Dict

from torch import nn

from .binary_conv import _BinaryMixin


def export_binary_state(model: nn.Module) -> Dict[str, dict]:
    """``{layer name: layer.export()}`` for every binary layer of ``model``."""
    return {n: m.export() for n, m in model.named_modules() if isinstance(m, _BinaryMixin)}


def materialize(model: nn.Module) -> nn.Module:
    """Materialise every binary layer of ``model`` in place; returns ``model``."""
    for m in model.modules():
        if isinstance(m, _BinaryMixin):
            m.materialize()
    return model
