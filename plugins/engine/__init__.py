"""Training infrastructure: safe checkpoints, DDP checks, config pre-flight checks, progress
and learning-curve pictures."""
from .checkpoint_check import CheckpointMismatchError, check_checkpoint_matches
from .hooks import (CurvesHook, DDPConsistencyHook, ProgressHook, SafeCheckpointHook,
                    draw_curves, parameter_fingerprint)
from .preflight import DatasetConfigError, check_data_cfg, check_dataset_cfg
from .progress import Progress, track

__all__ = [
    'CheckpointMismatchError', 'check_checkpoint_matches', 'CurvesHook', 'DDPConsistencyHook',
    'ProgressHook', 'SafeCheckpointHook', 'draw_curves', 'parameter_fingerprint',
    'DatasetConfigError', 'check_data_cfg', 'check_dataset_cfg', 'Progress', 'track'
]
