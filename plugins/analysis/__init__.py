"""Complexity accounting: parameters, packed size, FLOPs and BOPs (see CONTRIBUTING.md)."""
from .complexity import ComplexityReport, Row, complexity, default_cost, packed_bytes
from .cost import LayerCost

__all__ = ['LayerCost', 'complexity', 'ComplexityReport', 'Row', 'default_cost', 'packed_bytes']
