"""Complexity walker: per-layer FLOPs, BOPs, real and binary parameters, packed size.

:func:`complexity` runs one forward pass with forward hooks. A module with a
``cost(inputs, output) -> LayerCost`` method (binary layers, factorised layers ...) reports its
own cost and the walker does not descend into its children; other leaf modules use the defaults
of :func:`default_cost`. Parameters are counted once per module even if it runs several times;
FLOPs/BOPs add up over calls. Parameters of modules that never ran (and parameters held
directly by non-leaf modules, e.g. a ``cls_token``) are reported in extra rows so that the
parameter totals always equal the model's.

Counting rules (all integers, per forward of the given input, batch included):

* ``nn.Conv{1,2,3}d``: ``FLOPs = out.numel() * C_in / groups * prod(kernel)`` (MACs; bias
  not counted); ``ConvTranspose``: ``in.numel() * C_out / groups * prod(kernel)``.
* ``nn.Linear``: ``out.numel() * in_features``.
* norms (BatchNorm, GroupNorm, LayerNorm, InstanceNorm): ``out.numel()`` (one MAC per element).
* activations, pooling, dropout, identity: 0 FLOPs (their parameters, e.g. PReLU, count).
* any other leaf module: 0 FLOPs, its parameters as real parameters.

``packed bytes = real_params * 4 + ceil(binary_params / 8)``; the papers' operation count is
``FLOPs + BOPs / 64``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd, _ConvTransposeNd
from torch.nn.modules.instancenorm import _InstanceNorm

from .cost import LayerCost

_NORMS = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)


def _first_tensor(x) -> Optional[Tensor]:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)):
        for v in x:
            t = _first_tensor(v)
            if t is not None:
                return t
    if isinstance(x, dict):
        return _first_tensor(list(x.values()))
    return None


def _params(module: nn.Module, recurse: bool = True) -> int:
    return sum(p.numel() for p in module.parameters(recurse=recurse))


def packed_bytes(cost: LayerCost) -> int:
    """``real_params * 4 + ceil(binary_params / 8)``."""
    return cost.real_params * 4 + math.ceil(cost.binary_params / 8)


def default_cost(module: nn.Module, inputs: tuple, output) -> LayerCost:
    """Cost of a standard leaf module (see the module docstring)."""
    out = _first_tensor(output)
    x = _first_tensor(inputs)
    params = _params(module)
    if isinstance(module, _ConvTransposeNd) and x is not None:
        k = math.prod(module.kernel_size)
        return LayerCost(x.numel() * module.out_channels // module.groups * k, 0, params, 0)
    if isinstance(module, _ConvNd) and out is not None:
        k = math.prod(module.kernel_size)
        return LayerCost(out.numel() * (module.in_channels // module.groups) * k, 0, params, 0)
    if isinstance(module, nn.Linear) and out is not None:
        return LayerCost(out.numel() * module.in_features, 0, params, 0)
    if isinstance(module, _NORMS) and out is not None:
        return LayerCost(out.numel(), 0, params, 0)
    return LayerCost(0, 0, params, 0)


@dataclass
class Row:
    """One reported module."""
    name: str
    type: str
    cost: LayerCost
    out_shape: Tuple[int, ...] = ()
    calls: int = 0


@dataclass
class ComplexityReport:
    """Result of :func:`complexity`."""
    rows: List[Row] = field(default_factory=list)
    input_shape: Tuple[int, ...] = ()

    @property
    def total(self) -> LayerCost:
        t = LayerCost()
        for r in self.rows:
            t = t + r.cost
        return t

    @property
    def packed_bytes(self) -> int:
        """Model size with binary weights bit-packed and real ones as float32."""
        return packed_bytes(self.total)

    @property
    def ops(self) -> float:
        """The papers' figure ``FLOPs + BOPs / 64``."""
        t = self.total
        return t.flops + t.bops / 64

    def as_dict(self) -> dict:
        t = self.total
        return dict(flops=t.flops, bops=t.bops, real_params=t.real_params,
                    binary_params=t.binary_params, packed_bytes=self.packed_bytes, ops=self.ops)

    def table(self, max_rows: Optional[int] = None) -> str:
        """A plain-text table, one row per reported module, then the totals."""
        head = ('layer', 'type', 'output', 'FLOPs', 'BOPs', 'real params', 'binary params')
        lines = [head]
        rows = self.rows if max_rows is None else self.rows[:max_rows]
        for r in rows:
            lines.append((r.name or '(model)', r.type, 'x'.join(map(str, r.out_shape)),
                          f'{r.cost.flops:,}', f'{r.cost.bops:,}', f'{r.cost.real_params:,}',
                          f'{r.cost.binary_params:,}'))
        t = self.total
        lines.append(('TOTAL', '', 'x'.join(map(str, self.input_shape)), f'{t.flops:,}',
                      f'{t.bops:,}', f'{t.real_params:,}', f'{t.binary_params:,}'))
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
        out = []
        for i, line in enumerate(lines):
            out.append('  '.join(str(c).ljust(w) if j < 3 else str(c).rjust(w)
                                 for j, (c, w) in enumerate(zip(line, widths))))
            if i == 0 or i == len(lines) - 2:
                out.append('  '.join('-' * w for w in widths))
        if max_rows is not None and len(self.rows) > max_rows:
            out.insert(-2, f'... {len(self.rows) - max_rows} more rows')
        out.append(f'FLOPs + BOPs/64 = {self.ops:,.0f}   packed size = {self.packed_bytes:,} B '
                   f'({self.packed_bytes / 2**20:.3f} MiB)')
        return '\n'.join(out)


def complexity(model: nn.Module,
               input_shape: Optional[Sequence[int]] = None,
               inputs: Optional[Tensor] = None,
               forward: Optional[Callable[[nn.Module, Tensor], object]] = None
               ) -> ComplexityReport:
    """Per-layer cost of one forward pass of ``model``.

    Args:
        model: any ``nn.Module``; run in eval mode under ``torch.no_grad`` (its mode is
            restored afterwards).
        input_shape: shape of a zero input, e.g. ``(1, 3, 256, 256)``.
        inputs: or the input tensor itself.
        forward: ``fn(model, x)`` to run the model (default ``model(x)``).

    Returns:
        A :class:`ComplexityReport` (``.rows``, ``.total``, ``.packed_bytes``, ``.ops``,
        ``.table()``).
    """
    if inputs is None:
        if input_shape is None:
            raise ValueError('complexity: pass input_shape or inputs')
        p = next(model.parameters(), None)
        inputs = torch.zeros(tuple(input_shape), device=None if p is None else p.device)
    forward = forward or (lambda m, x: m(x))
    named = list(model.named_modules())
    costed = {n for n, m in named if callable(getattr(m, 'cost', None))}
    hidden = {n for n, _ in named if any(n.startswith(c + '.') for c in costed if c) or (
        '' in costed and n)}
    rows: Dict[str, Row] = {}
    handles = []

    def make_hook(name: str, module: nn.Module):
        def hook(mod, inp, out):
            cost = mod.cost(inp, out) if name in costed else default_cost(mod, inp, out)
            row = rows.get(name)
            o = _first_tensor(out)
            shape = tuple(o.shape) if o is not None else ()
            if row is None:
                rows[name] = Row(name, type(mod).__name__, cost, shape, 1)
            else:  # parameters once, operations per call
                row.cost = row.cost._replace(flops=row.cost.flops + cost.flops,
                                             bops=row.cost.bops + cost.bops)
                row.calls += 1
        return hook

    order = []
    for name, m in named:
        if name in hidden:
            continue
        if name in costed or not any(True for _ in m.children()):
            handles.append(m.register_forward_hook(make_hook(name, m)))
            order.append(name)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            forward(model, inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    report = ComplexityReport([rows[n] for n in order if n in rows], tuple(inputs.shape))
    modules = dict(named)
    unused = sum(_params(modules[n]) for n in order if n not in rows)
    direct = sum(_params(m, recurse=False) for n, m in named
                 if n not in hidden and n not in costed and any(True for _ in m.children()))
    if direct:
        report.rows.append(Row('<parameters of non-leaf modules>', '-', LayerCost(0, 0, direct,
                                                                                   0)))
    if unused:
        report.rows.append(Row('<modules not executed>', '-', LayerCost(0, 0, unused, 0)))
    return report
