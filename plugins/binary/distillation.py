"""Knowledge distillation from a real-valued teacher ("Improved training of binary networks for
human pose estimation and image recognition", Bulat et al., 2019).

* ``HeatmapDistillLoss`` (mmpose ``MODELS``): MSE between student and teacher heatmaps.
* ``FeatureDistillLoss`` (mmpose ``MODELS``): MSE between features, or attention transfer
  (``mode='attention'``: L2 distance of the L2-normalised channel-mean of squared features).
* ``LogitDistillLoss`` (mmengine ``MODELS``, generic): ``T^2 * KL(softmax(t/T) || softmax(s/T))``.
* ``DistillTopdownPoseEstimator`` (mmpose ``MODELS``): a ``TopdownPoseEstimator`` whose
  ``loss()`` adds ``loss_kd`` (head outputs vs the frozen teacher's) and optionally
  ``loss_feat`` (backbone/neck features). The teacher is built from its own config and
  checkpoint, is always in eval mode, and is *not* part of the student's parameters or
  checkpoints (so student checkpoints load into a plain ``TopdownPoseEstimator``).

Config::

    model = dict(type='DistillTopdownPoseEstimator',
                 backbone=..., head=..., test_cfg=...,        # the (binary) student
                 teacher=dict(type='TopdownPoseEstimator', backbone=..., head=...),
                 teacher_checkpoint='work_dirs/real/best.pth',
                 distill_loss=dict(type='HeatmapDistillLoss', loss_weight=1.0),
                 feature_loss=None)
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

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
        teacher_checkpoint: checkpoint loaded into the teacher (``None``: keep its init).
        distill_loss: loss between student and teacher head outputs (``None`` to disable).
        feature_loss: loss between ``extract_feat`` outputs (``None`` to disable).
        **kwargs: the ``TopdownPoseEstimator`` arguments of the student.
    """

    def __init__(self,
                 teacher: Union[dict, nn.Module],
                 teacher_checkpoint: Optional[str] = None,
                 distill_loss: Optional[dict] = dict(type='HeatmapDistillLoss'),
                 feature_loss: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(teacher, dict):
            teacher = MODELS.build(teacher)
        if teacher_checkpoint is not None:
            from mmengine.runner import load_checkpoint
            load_checkpoint(teacher, teacher_checkpoint, map_location='cpu')
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        # stored outside _modules: not in parameters(), state_dict() or the optimizer
        object.__setattr__(self, 'teacher', teacher)
        self.distill_loss = MODELS.build(distill_loss) if distill_loss else None
        self.feature_loss = MODELS.build(feature_loss) if feature_loss else None

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
        feats = self.extract_feat(inputs)
        losses = dict()
        if self.with_head:
            losses.update(self.head.loss(feats, data_samples, train_cfg=self.train_cfg))
        with torch.no_grad():
            t_feats = self.teacher.extract_feat(inputs)
            t_out = self.teacher.head.forward(t_feats) if self.distill_loss else None
        if self.distill_loss is not None:
            losses['loss_kd'] = self.distill_loss(self.head.forward(feats), t_out)
        if self.feature_loss is not None:
            losses['loss_feat'] = self.feature_loss(tuple(feats), tuple(t_feats))
        return losses
