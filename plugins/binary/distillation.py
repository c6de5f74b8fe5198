"""Knowledge distillation from a real-valued teacher ("Improved training of binary networks for
human pose estimation and image recognition", Bulat et al., 2019).

* ``HeatmapDistillLoss`` (mmpose ``MODELS``): MSE between student and teacher heatmaps.
* ``FeatureDistillLoss`` (mmpose ``MODELS``): MSE between features, or attention transfer
  (``mode='attention'``: L2 distance of the L2-normalised channel-mean of squared features).
* ``LogitDistillLoss`` (mmengine ``MODELS``, generic): ``T^2 * KL(softmax(t/T) || softmax(s/T))``.
* ``DistillTopdownPoseEstimator`` (mmpose ``MODELS``): a ``TopdownPoseEstimator`` whose
  ``loss()`` adds ``loss_kd`` (head outputs vs the frozen teacher's) and optionally
  ``loss_feat`` on features: the outputs of named modules (``feature_modules``, e.g. every
  stack's feature layer of a stacked hourglass, ``'backbone.features.*'``) recorded by forward
  hooks in student and teacher, or, without ``feature_modules``, the ``extract_feat`` outputs.
  The teacher is built from its own config and checkpoint (a file, or a work dir whose latest
  checkpoint is used), is always in eval mode, and is *not* part of the student's parameters
  or checkpoints (so student checkpoints load into a plain ``TopdownPoseEstimator``).

Config::

    model = dict(type='DistillTopdownPoseEstimator',
                 backbone=..., head=..., test_cfg=...,        # the (binary) student
                 teacher=dict(type='TopdownPoseEstimator', backbone=..., head=...),
                 teacher_checkpoint='work_dirs/real/best.pth',
                 distill_loss=dict(type='HeatmapDistillLoss', loss_weight=1.0),
                 feature_loss=dict(type='FeatureDistillLoss', mode='attention'),
                 feature_modules=['backbone.features.*'])   # per-stack features
"""
from __future__ import annotations

import os.path as osp
from fnmatch import fnmatchcase
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from torch import Tensor, nn

Outputs = Union[Tensor, Sequence]


def _pairwise(fn, student: Outputs, teacher: Outputs) -> Tensor:
    """Apply ``fn`` to matching tensors of (nested) outputs and average."""
    if isinstance(student, Tensor):
        return fn(student, teacher)
    if len(student) != len(teacher):
        raise ValueError(f'student and teacher outputs differ in length: {len(student)} vs '
                         f'{len(teacher)}')
    terms = [_pairwise(fn, s, t) for s, t in zip(student, teacher)]
    return sum(terms) / len(terms)


@MODELS.register_module()
class HeatmapDistillLoss(nn.Module):
    """MSE between student and teacher heatmaps (N, K, H, W) (or tuples of them).

    Args:
        loss_weight: multiplier.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, student: Outputs, teacher: Outputs) -> Tensor:
        return self.loss_weight * _pairwise(F.mse_loss, student, teacher)


def attention_map(f: Tensor) -> Tensor:
    """Attention transfer map: L2-normalised ``mean_c f^2``. (N, C, H, W) -> (N, H*W)."""
    return F.normalize(f.pow(2).mean(1).flatten(1), dim=1)


@MODELS.register_module()
class FeatureDistillLoss(nn.Module):
    """Distance between student and teacher features (N, C, H, W) (or tuples).

    Args:
        mode: ``'mse'`` (same shapes) or ``'attention'`` (attention transfer, any channels).
        loss_weight: multiplier.
    """

    MODES = ('mse', 'attention')

    def __init__(self, mode: str = 'mse', loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f'FeatureDistillLoss: unknown mode {mode!r}; allowed: '
                             f'{list(self.MODES)}')
        self.mode, self.loss_weight = mode, loss_weight

    def forward(self, student: Outputs, teacher: Outputs) -> Tensor:
        if self.mode == 'mse':
            fn = F.mse_loss
        else:
            def fn(s, t):
                return (attention_map(s) - attention_map(t)).pow(2).sum(1).mean()
        return self.loss_weight * _pairwise(fn, student, teacher)


@MMENGINE_MODELS.register_module()
class LogitDistillLoss(nn.Module):
    """Hinton et al.'s soft-target loss ``T^2 * KL(softmax(t/T) || softmax(s/T))``.

    Args:
        temperature: T.
        loss_weight: multiplier.

    Shape: student, teacher (N, classes) -> scalar (batch mean).
    """

    def __init__(self, temperature: float = 4.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.temperature, self.loss_weight = temperature, loss_weight

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        t = self.temperature
        kl = F.kl_div(F.log_softmax(student / t, 1), F.log_softmax(teacher / t, 1),
                      reduction='batchmean', log_target=True)
        return self.loss_weight * t * t * kl


@MODELS.register_module()
class DistillTopdownPoseEstimator(TopdownPoseEstimator):
    """Top-down estimator trained with distillation from a frozen real-valued teacher.

    Args:
        teacher: config of the teacher model (any mmpose estimator) or a built module.
        teacher_checkpoint: checkpoint loaded into the teacher: a file, or a work dir (its
            latest checkpoint, as written by mmengine's checkpoint hook); ``None`` keeps the
            teacher's init.
        distill_loss: loss between student and teacher head outputs (``None`` to disable).
        feature_loss: loss between features (``None`` to disable).
        feature_modules: names (fnmatch globs; ``*`` does not cross a dot) of the modules whose
            outputs are the features, in student and teacher alike, e.g.
            ``['backbone.features.*']``; ``None``: the ``extract_feat`` outputs.
        **kwargs: the ``TopdownPoseEstimator`` arguments of the student.
    """

    def __init__(self,
                 teacher: Union[dict, nn.Module],
                 teacher_checkpoint: Optional[str] = None,
                 distill_loss: Optional[dict] = dict(type='HeatmapDistillLoss'),
                 feature_loss: Optional[dict] = None,
                 feature_modules: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(teacher, dict):
            teacher = MODELS.build(teacher)
        if teacher_checkpoint is not None:
            from mmengine.runner import load_checkpoint
            load_checkpoint(teacher, resolve_teacher_checkpoint(teacher_checkpoint),
                            map_location='cpu')
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        # stored outside _modules: not in parameters(), state_dict() or the optimizer
        object.__setattr__(self, 'teacher', teacher)
        self.distill_loss = MODELS.build(distill_loss) if distill_loss else None
        self.feature_loss = MODELS.build(feature_loss) if feature_loss else None
        self.feature_modules = None
        self._recorded: Dict[str, Dict[str, Tensor]] = dict(student={}, teacher={})
        self._recording = False
        if feature_modules is not None:
            names = select_modules(self, feature_modules)
            t_names = select_modules(teacher, feature_modules)
            if names != t_names:
                raise ValueError(f'feature_modules {list(feature_modules)} select {names} in '
                                 f'the student but {t_names} in the teacher')
            self.feature_modules = names
            for who, model in (('student', self), ('teacher', teacher)):
                modules = dict(model.named_modules())
                for name in names:
                    modules[name].register_forward_hook(self._recorder(who, name))

    def _recorder(self, who: str, name: str):
        def record(module, inputs, output) -> None:
            if self._recording:
                self._recorded[who][name] = output
        return record

    def _features(self, who: str) -> tuple:
        return tuple(self._recorded[who][n] for n in self.feature_modules)

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self.teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self

    def loss(self, inputs: Tensor, data_samples) -> dict:
        """The student's losses plus ``loss_kd`` and ``loss_feat``."""
        self._recording = self.feature_modules is not None
        try:
            feats = self.extract_feat(inputs)
            with torch.no_grad():
                t_feats = self.teacher.extract_feat(inputs)
                t_out = self.teacher.head.forward(t_feats) if self.distill_loss else None
            if self.feature_modules is not None:
                s_f, t_f = self._features('student'), self._features('teacher')
            else:
                s_f, t_f = tuple(feats), tuple(t_feats)
        finally:
            self._recording = False
            self._recorded = dict(student={}, teacher={})
        losses = dict()
        if self.with_head:
            losses.update(self.head.loss(feats, data_samples, train_cfg=self.train_cfg))
        if self.distill_loss is not None:
            losses['loss_kd'] = self.distill_loss(self.head.forward(feats), t_out)
        if self.feature_loss is not None:
            losses['loss_feat'] = self.feature_loss(s_f, t_f)
        return losses


def select_modules(model: nn.Module, patterns: Sequence[str]) -> List[str]:
    """Names of ``model``'s modules matching any pattern, where ``*`` does not cross a dot
    (``'backbone.features.*'`` selects ``backbone.features.0``, not ``...0.1``).

    Raises:
        ValueError: a pattern matches no module (the message lists candidates).
    """
    names = [n for n, _ in model.named_modules() if n]
    out = []
    for p in patterns:
        hits = [n for n in names if fnmatchcase(n, p) and n.count('.') == p.count('.')]
        if not hits:
            near = [n for n in names if n.count('.') == p.count('.')][:10]
            raise ValueError(f'feature_modules pattern {p!r} matches no module; modules at '
                             f'that depth: {near}')
        out += [n for n in hits if n not in out]
    return out


def resolve_teacher_checkpoint(path: str) -> str:
    """``path`` itself for a file; for a directory, its latest checkpoint (mmengine's
    ``last_checkpoint`` record).

    Raises:
        FileNotFoundError: nothing there; the message says how to make it.
    """
    if osp.isdir(path):
        from mmengine.runner import find_latest_checkpoint
        found = find_latest_checkpoint(path)
        if found and osp.isfile(found):
            return found
        if found and osp.isfile(osp.join(path, osp.basename(found))):
            return osp.join(path, osp.basename(found))
    elif osp.isfile(path):
        return path
    raise FileNotFoundError(
        f'teacher checkpoint {path!r} not found. Train the teacher first, e.g. '
        f'`python tools/train.py configs/pose/binary_hg_mpii_distill_teacher.py` (writes '
        f'work_dirs/binary_hg_mpii_distill_teacher/), or set model.teacher_checkpoint')
