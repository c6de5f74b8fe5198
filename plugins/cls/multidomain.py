"""Incremental multi-domain learning with network latent tensor factorisation.

Kossaifi, Bulat, Tzimiropoulos and Pantic, "Incremental multi-domain learning with network
latent tensor factorization" (AAAI 2020). The convolutions of each ResNet stage (``B``
identically structured basic blocks, two 3x3 convs each) are *one* 6th-order tensor

    W_s  (B, 2, C, C, 3, 3)  =  G_s  x_1 U_d^(1)  x_2 U_d^(2) ...  x_6 U_d^(6)

in Tucker form: the core ``G_s`` is shared by all domains, the factor matrices ``U_d^(n)``
(``dim_n x rank_n``) belong to domain ``d``. The stem conv is a 4th-order tensor (O, I, 3, 3)
with the same split.

Layouts (``layout``):

* ``'resnet26'`` (default): the ResNet-26 of the Visual Decathlon work the paper builds on
  (Rebuffi et al., "Learning multiple visual domains with residual adapters"): a 3x3 stem
  conv, then stages whose *first block downsamples* (stride 2 in its first conv; its shortcut
  is parameter-free: 2x2 average pooling and zero channels appended), 4 blocks of 64, 128 and
  256 channels in the paper's configuration, and a final BatchNorm + ReLU before pooling. The
  first conv of a stage's first block reads fewer channels (``C_prev < C``): it is the slice
  ``W_s[0, 0][:, :C_prev]`` of the stage tensor, i.e. it uses the first ``C_prev`` rows of the
  input-channel factor.
* ``'transition'`` (earlier versions): a stride-1 3x3 stem, then before each stage a plain
  3x3 transition conv (stride 2 after the first stage, a 4th-order Tucker tensor) and blocks
  that keep the resolution.

Protocol (:meth:`LatentTuckerResNet.add_domain`):

1. the first domain learns the cores, its factors, its BatchNorms and its classifier;
2. adding a domain freezes every existing parameter (cores and all earlier domains' factors,
   norms and classifiers) and creates only the new domain's factors (initialised from a chosen
   earlier domain), norms and classifier. A frozen domain always runs its BatchNorms in
   inference mode, so its outputs stay bit-for-bit identical whatever is trained later.

:meth:`LatentTuckerResNet.params_per_domain` counts what each domain adds;
:meth:`LatentTuckerResNet.full_network_params` is the size of one ordinary (dense) network of
the same architecture, the denominator of the ratio reported in the paper.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch import Tensor, nn

__all__ = ['TuckerTensorGroup', 'LatentTuckerResNet', 'tucker_to_tensor', 'LAYOUTS']

#: Network layouts of :class:`LatentTuckerResNet` (see the module docstring).
LAYOUTS = ('resnet26', 'transition')


def tucker_to_tensor(core: Tensor, factors: Sequence[Tensor]) -> Tensor:
    """Reconstruct ``core x_1 U_1 ... x_N U_N``.

    Args:
        core: (R_1, ..., R_N).
        factors: ``U_n`` of shape (I_n, R_n).

    Returns:
        (I_1, ..., I_N).
    """
    out = core
    for n, u in enumerate(factors):
        out = torch.movedim(torch.tensordot(u, out, dims=([1], [n])), 0, n)
    return out


class TuckerTensorGroup(nn.Module):
    """A weight tensor with a shared Tucker core and one set of factors per domain.

    Args:
        shape: the full tensor shape (I_1, ..., I_N).
        ranks: Tucker ranks (R_1, ..., R_N), ``1 <= R_n <= I_n``.
        fan_in: fan-in of the convolutions the tensor holds (for He initialisation).
    """

    def __init__(self, shape: Sequence[int], ranks: Sequence[int], fan_in: int) -> None:
        super().__init__()
        self.shape, self.ranks = tuple(shape), tuple(ranks)
        if len(self.shape) != len(self.ranks) or any(
                not 1 <= r <= s for s, r in zip(self.shape, self.ranks)):
            raise ValueError(f'Tucker ranks {self.ranks} do not fit shape {self.shape} '
                             f'(need one rank per mode, 1 <= rank <= dim)')
        # orthonormal factors keep ||W|| = ||G||; choose G so that W has He-init energy
        std = math.sqrt(math.prod(self.shape) / math.prod(self.ranks) * 2.0 / fan_in)
        self.core = nn.Parameter(torch.randn(self.ranks) * std)
        self.factors = nn.ModuleList()

    @property
    def num_domains(self) -> int:
        return len(self.factors)

    def add_domain(self, init_from: int | None = None) -> None:
        """Append one domain's factors: copies of domain ``init_from``'s, or orthonormal."""
        if init_from is None:
            fs = [torch.linalg.qr(torch.randn(s, r))[0] for s, r in zip(self.shape, self.ranks)]
        else:
            fs = [f.detach().clone() for f in self.factors[init_from]]
        self.factors.append(nn.ParameterList([nn.Parameter(f) for f in fs]))

    @torch.no_grad()
    def copy_domain(self, dst: int, src: int) -> None:
        """Overwrite domain ``dst``'s factors with domain ``src``'s."""
        for a, b in zip(self.factors[dst], self.factors[src]):
            a.copy_(b)

    def weight(self, domain: int) -> Tensor:
        """The full tensor of one domain, shape ``self.shape``."""
        return tucker_to_tensor(self.core, list(self.factors[domain]))

    def factor_params(self) -> int:
        """Parameters one domain adds (its factors)."""
        return sum(s * r for s, r in zip(self.shape, self.ranks))


def _channel_ranks(shape: Sequence[int], channel_modes: Sequence[int], rank: float) -> tuple:
    if not 0 < rank <= 1:
        raise ValueError(f'rank is a fraction of each channel dimension in (0, 1], got {rank!r}')
    return tuple(max(1, round(s * rank)) if i in channel_modes else s for i, s in enumerate(shape))


@MODELS.register_module()
class LatentTuckerResNet(nn.Module):
    """Multi-domain ResNet whose stages are Tucker tensors with shared cores.

    Args:
        layers: identical basic blocks per stage, e.g. (2, 2, 2) (B of each stage tensor).
        widths: channels of each stage.
        in_chans: input channels.
        rank: Tucker rank of the channel modes as a fraction of the channels (the block, conv
            and spatial modes keep full rank).
        stem_stride: stride of the 3x3 stem conv.
        layout: ``'resnet26'`` (downsampling inside the first block of every stage; default)
            or ``'transition'`` (plain transition convs between stages; earlier versions).
        stem_channels: output channels of the stem (``'resnet26'`` only; default
            ``widths[0] // 2``, the paper's 32 for widths 64/128/256).
        strides: stride of each stage (default: 2 for every stage with ``'resnet26'``, as in
            ResNet-26 on 64x64 inputs; 1 then 2 with ``'transition'``).

    Shapes:
        ``forward(x (N, in_chans, H, W), domain)`` -> (N, num_classes of that domain).
    """

    def __init__(self,
                 layers: Sequence[int] = (2, 2, 2),
                 widths: Sequence[int] = (16, 32, 64),
                 in_chans: int = 3,
                 rank: float = 1.0,
                 stem_stride: int = 1,
                 layout: str = 'resnet26',
                 stem_channels: int | None = None,
                 strides: Sequence[int] | None = None) -> None:
        super().__init__()
        if len(layers) != len(widths):
            raise ValueError(f'layers {tuple(layers)} and widths {tuple(widths)} differ in length')
        if layout not in LAYOUTS:
            raise ValueError(f'unknown layout {layout!r}; allowed: {list(LAYOUTS)}')
        if stem_channels is not None and layout != 'resnet26':
            raise ValueError(f"stem_channels is an option of layout='resnet26', got layout="
                             f'{layout!r} (its stem has widths[0] channels)')
        default_strides = (2, ) * len(widths) if layout == 'resnet26' else \
            (1, ) + (2, ) * (len(widths) - 1)
        self.strides = tuple(strides) if strides is not None else default_strides
        if len(self.strides) != len(widths):
            raise ValueError(f'strides {self.strides} need one entry per stage ({len(widths)})')
        self.layers, self.widths, self.stem_stride = tuple(layers), tuple(widths), stem_stride
        self.in_chans, self.rank, self.layout = in_chans, rank, layout
        w0 = widths[0] if layout == 'transition' else (stem_channels or max(1, widths[0] // 2))
        if any(c < p for p, c in zip((w0, ) + self.widths, self.widths)):
            raise ValueError(f'widths {self.widths} (after a stem of {w0}) must not decrease')
        self.stem_channels = w0
        self.stem = TuckerTensorGroup((w0, in_chans, 3, 3), _channel_ranks(
            (w0, in_chans, 3, 3), (0, ), rank), in_chans * 9)
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        prev = w0
        for b, c in zip(layers, widths):
            shape = (c, prev, 3, 3)
            if layout == 'transition':
                self.transitions.append(
                    TuckerTensorGroup(shape, _channel_ranks(shape, (0, 1), rank), prev * 9))
            shape = (b, 2, c, c, 3, 3)
            self.stages.append(TuckerTensorGroup(shape, _channel_ranks(shape, (2, 3), rank), c * 9))
            prev = c
        self.num_features = prev
        self.domain_names: list[str] = []
        self.num_classes: list[int] = []
        self.norms = nn.ModuleList()  # one ModuleList of BatchNorms per domain
        self.heads = nn.ModuleList()  # one classifier per domain

    # ------------------------------------------------------------------ domains
    def _groups(self) -> list[TuckerTensorGroup]:
        return [self.stem, *self.transitions, *self.stages]

    def _norm_channels(self) -> list[int]:
        """Channels of every BatchNorm of one domain, in forward order."""
        chans = [self.stem_channels]
        transition = 1 if self.layout == 'transition' else 0
        for b, c in zip(self.layers, self.widths):
            chans += [c] * (transition + 2 * b)
        if self.layout == 'resnet26':
            chans.append(self.widths[-1])  # final BN + ReLU before pooling
        return chans

    def domain_index(self, domain: int | str) -> int:
        """Index of a domain given by name or index.

        Raises:
            KeyError: the domain was never added (the message lists the added ones).
        """
        if isinstance(domain, str) and domain in self.domain_names:
            return self.domain_names.index(domain)
        if isinstance(domain, int) and not isinstance(domain, bool) and \
                0 <= domain < len(self.domain_names):
            return domain
        raise KeyError(f'domain {domain!r} was never added; added domains: '
                       f'{list(enumerate(self.domain_names))}')

    def add_domain(self, name: str, num_classes: int, init_from: int | str | None = 0) -> int:
        """Add a domain; freeze everything that exists.

        Args:
            name: unique domain name.
            num_classes: classes of the domain's classifier.
            init_from: domain whose factors and norms initialise the new ones (ignored for the
                first domain; ``None``: fresh orthonormal factors and unit norms).

        Returns:
            The new domain's index.
        """
        if name in self.domain_names:
            raise ValueError(f'domain {name!r} already exists: {self.domain_names}')
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
        src = None if not self.domain_names or init_from is None else self.domain_index(init_from)
        for p in self.parameters():
            p.requires_grad_(False)
        for g in self._groups():
            g.add_domain(src)
        norms = nn.ModuleList(nn.BatchNorm2d(c) for c in self._norm_channels())
        if src is not None:
            norms.load_state_dict(self.norms[src].state_dict())
            norms.requires_grad_(True)
        self.norms.append(norms)
        self.heads.append(nn.Linear(self.num_features, num_classes))
        self.domain_names.append(name)
        self.num_classes.append(num_classes)
        if len(self.domain_names) == 1:  # the first domain also learns the shared cores
            for g in self._groups():
                g.core.requires_grad_(True)
        return len(self.domain_names) - 1

    @torch.no_grad()
    def copy_domain(self, dst: int | str, src: int | str) -> None:
        """Initialise domain ``dst``'s factors and norms from domain ``src`` (after loading a
        checkpoint that lacks ``dst``)."""
        dst, src = self.domain_index(dst), self.domain_index(src)
        for g in self._groups():
            g.copy_domain(dst, src)
        self.norms[dst].load_state_dict(self.norms[src].state_dict())

    def is_frozen(self, domain: int) -> bool:
        """True when domain ``domain``'s parameters are frozen (a later domain exists)."""
        return not self.heads[domain].weight.requires_grad

    # ------------------------------------------------------------------ counting
    def params_per_domain(self) -> int:
        """Parameters one domain adds besides its classifier: factors + norms."""
        factors = sum(g.factor_params() for g in self._groups())
        return factors + 2 * sum(self._norm_channels())

    def shared_params(self) -> int:
        """Parameters of the shared cores."""
        return sum(g.core.numel() for g in self._groups())

    def full_network_params(self) -> int:
        """Parameters of one dense network of this architecture (convs + norms), no head."""
        convs = sum(math.prod(g.shape) for g in self._groups())
        if self.layout == 'resnet26':  # first conv of each stage reads C_prev < C channels
            prev = self.stem_channels
            for c in self.widths:
                convs -= c * (c - prev) * 9
                prev = c
        return convs + 2 * sum(self._norm_channels())

    # ------------------------------------------------------------------ forward
    def _bn(self, bn: nn.BatchNorm2d, x: Tensor, batch_stats: bool) -> Tensor:
        return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                            batch_stats, bn.momentum, bn.eps)

    def forward_features(self, x: Tensor, domain: int | str) -> Tensor:
        """(N, in_chans, H, W) -> (N, num_features) pooled features of one domain."""
        d = self.domain_index(domain)
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f'expected input (N, {self.in_chans}, H, W), got {tuple(x.shape)}')
        train = self.training and not self.is_frozen(d)
        norms = iter(self.norms[d])
        x = F.relu(self._bn(next(norms), F.conv2d(x, self.stem.weight(d), None,
                                                  self.stem_stride, 1), train))
        if self.layout == 'resnet26':
            return self._resnet26_features(x, d, norms, train)
        for i, (trans, stage) in enumerate(zip(self.transitions, self.stages)):
            x = F.conv2d(x, trans.weight(d), None, 1 if i == 0 else 2, 1)
            x = F.relu(self._bn(next(norms), x, train))
            w = stage.weight(d)
            for b in range(w.shape[0]):
                y = F.relu(self._bn(next(norms), F.conv2d(x, w[b, 0], None, 1, 1), train))
                y = self._bn(next(norms), F.conv2d(y, w[b, 1], None, 1, 1), train)
                x = F.relu(x + y)
        return x.mean((2, 3))

    def _resnet26_features(self, x: Tensor, d: int, norms, train: bool) -> Tensor:
        """Stages whose first block downsamples (shortcut: average pool + zero channels)."""
        for stage, stride in zip(self.stages, self.strides):
            w = stage.weight(d)
            for b in range(w.shape[0]):
                s, cin = (stride if b == 0 else 1), x.shape[1]
                y = F.conv2d(x, w[b, 0][:, :cin], None, s, 1)
                y = F.relu(self._bn(next(norms), y, train))
                y = self._bn(next(norms), F.conv2d(y, w[b, 1], None, 1, 1), train)
                shortcut = F.avg_pool2d(x, s, ceil_mode=True) if s > 1 else x
                if cin < y.shape[1]:
                    shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, y.shape[1] - cin))
                x = F.relu(shortcut + y)
        x = F.relu(self._bn(next(norms), x, train))
        return x.mean((2, 3))

    def forward(self, x: Tensor, domain: int | str) -> Tensor:
        """(N, in_chans, H, W) -> (N, num_classes[domain])."""
        d = self.domain_index(domain)
        return self.heads[d](self.forward_features(x, d))
