"""Has a module's state changed since a cached value was derived from it?

The export passes cache what they derive from a block (kernel plans, folded BatchNorm terms)
and must notice when the block is edited afterwards: a parameter or buffer replaced, or changed
in place (``torch.no_grad(): w.mul_(2)``, ``load_state_dict``, which copies in place). Every
tensor counts its in-place changes in ``_version``, so a snapshot of ``(holder dict, name,
tensor, version)`` for each slot tells both, at a few list operations per call: a packed
hourglass checks ~400 slots per forward (~0.1 ms). An edit through ``tensor.data`` bumps no
version counter and is not seen (as for autograd's own checks): edit parameters under
``torch.no_grad()`` instead.
"""
from __future__ import annotations

from typing import Iterable, List, Tuple

from torch import nn


class TensorSlots:
    """The parameter and buffer slots of ``modules`` with the tensor and version each held when
    the snapshot was taken.

    Args:
        modules: the modules whose own (not recursive) parameters and buffers to watch.
    """

    def __init__(self, modules: Iterable[nn.Module]) -> None:
        self.slots: List[Tuple[dict, str, object, object]] = [
            (d, name, t, None if t is None else t._version)
            for m in modules for d in (m._parameters, m._buffers) for name, t in d.items()]
        self.sizes = [len(d) for d, *_ in self.slots]

    def unchanged(self) -> bool:
        """True if every slot still holds the same tensor at the same version (and no module
        gained or lost a parameter or buffer in a watched dict)."""
        for (d, name, t, v), size in zip(self.slots, self.sizes):
            if len(d) != size or d.get(name) is not t or (t is not None and t._version != v):
                return False
        return True


__all__ = ['TensorSlots']
