"""mmengine wrapper of the multi-domain network: one config per incremental step.

Step ``k`` of the incremental protocol is a config whose ``domains`` lists the first ``k + 1``
domains and whose ``load_from`` is the checkpoint of step ``k - 1``:

    model = dict(type='MultiDomainClassifier',
                 network=dict(type='LatentTuckerResNet', layers=(2, 2, 2), widths=(16, 32, 64)),
                 domains=[dict(name='digits', num_classes=10),
                          dict(name='digits_inverted', num_classes=10)])
    custom_hooks = [dict(type='InitNewDomainHook', init_from='digits')]

The model trains (and by default evaluates) the *last* domain; all earlier domains are frozen
(see :mod:`plugins.cls.multidomain`). ``InitNewDomainHook`` copies the factors and norms of
``init_from`` into the new domain after the checkpoint of the previous step is loaded and before
the first iteration (not when resuming).
"""
from __future__ import annotations

from typing import Sequence

from mmengine.hooks import Hook
from mmengine.registry import HOOKS, MODELS
from torch import Tensor

from .classifier import _ClassifierBase

__all__ = ['MultiDomainClassifier', 'InitNewDomainHook']


@MODELS.register_module()
class MultiDomainClassifier(_ClassifierBase):
    """Classifier over one domain of a multi-domain network.

    Args:
        network: config of the multi-domain network (``LatentTuckerResNet``).
        domains: ``[dict(name=..., num_classes=...), ...]`` in the order they were added.
        eval_domain: domain that ``predict``/``tensor`` use (default: the last, trained one).
        init_from: domain that initialises each new domain's factors at construction.
        label_smoothing: of the cross-entropy loss.
        data_preprocessor: default ``ClsDataPreprocessor``.
    """

    def __init__(self,
                 network: dict,
                 domains: Sequence[dict],
                 eval_domain: str | int | None = None,
                 init_from: str | int | None = 0,
                 label_smoothing: float = 0.0,
                 data_preprocessor: dict | None = None,
                 init_cfg: dict | None = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor or dict(type='ClsDataPreprocessor'),
                         init_cfg=init_cfg)
        if not domains:
            raise ValueError('domains must list at least one dict(name=..., num_classes=...)')
        self.network = MODELS.build(network)
        for d in domains:
            self.network.add_domain(d['name'], d['num_classes'], init_from)
        self.label_smoothing = label_smoothing
        self.train_domain = len(domains) - 1
        self.eval_domain = self.network.domain_index(
            self.train_domain if eval_domain is None else eval_domain)

    def logits(self, inputs: Tensor) -> Tensor:
        return self.network(inputs, self.train_domain if self.training else self.eval_domain)


@HOOKS.register_module()
class InitNewDomainHook(Hook):
    """Before the first training iteration, initialise the new (last) domain from another.

    Args:
        init_from: name or index of the source domain.
    """

    priority = 'VERY_HIGH'

    def __init__(self, init_from: str | int = 0) -> None:
        self.init_from = init_from

    def before_train(self, runner) -> None:
        if runner.iter > 0:  # resumed: the new domain is already trained
            return
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        net = model.network
        last = len(net.domain_names) - 1
        if last > 0:
            net.copy_domain(last, self.init_from)
            runner.logger.info(f'initialised domain {net.domain_names[last]!r} from '
                               f'{self.init_from!r}')
