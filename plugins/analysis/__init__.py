"""Complexity accounting: parameters, packed size, FLOPs and BOPs (see CONTRIBUTING.md)."""
from .cost import LayerCost

__all__ = ['LayerCost']
