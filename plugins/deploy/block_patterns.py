"""Registries of block classes that an export pass rewrites (BatchNorm folding, packed chains).

Each pass declares the forward it relies on and keeps one :class:`BlockPatterns`: block class
-> the attribute names the pass reads. The project's own blocks are listed as defaults by
import path and registered on the first lookup, because the packages that define them (pose,
classification) are optional for deployment.
"""
from __future__ import annotations

import importlib
from typing import Dict, Iterator, Optional, Sequence, Tuple

from torch import nn


class BlockPatterns:
    """Block class -> attribute names, with lazily imported defaults.

    Args:
        defaults: ``('package.module:ClassName', attrs)`` pairs registered on first lookup; a
            module that cannot be imported is skipped.
    """

    def __init__(self, defaults: Sequence[Tuple[str, Tuple[str, ...]]] = ()) -> None:
        self._table: Dict[type, Tuple[str, ...]] = {}
        self._defaults = list(defaults)

    def register(self, cls: type, attrs: Tuple[str, ...]) -> type:
        """Register ``cls`` with the attribute names the pass reads; returns ``cls``."""
        self._table[cls] = tuple(attrs)
        return cls

    def _load_defaults(self) -> None:
        defaults, self._defaults = self._defaults, []
        for path, attrs in defaults:
            module, name = path.split(':')
            try:
                cls = getattr(importlib.import_module(module), name)
            except ImportError:  # the package that defines it is optional for deployment
                continue
            self._table.setdefault(cls, tuple(attrs))

    def get(self, cls: type) -> Optional[Tuple[str, ...]]:
        """The attribute names registered for exactly ``cls`` (not its subclasses), or None."""
        self._load_defaults()
        return self._table.get(cls)

    def __contains__(self, cls: type) -> bool:
        return self.get(cls) is not None

    def __iter__(self) -> Iterator[type]:
        self._load_defaults()
        return iter(list(self._table))


def plain_sequentials(model: nn.Module) -> Iterator[Tuple[str, nn.Sequential]]:
    """``(name, module)`` of every module of ``model`` whose type is exactly ``nn.Sequential``
    (the containers an export pass may give another forward; subclasses keep their own)."""
    for name, module in model.named_modules():
        if type(module) is nn.Sequential:
            yield name, module
