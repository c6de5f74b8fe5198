"""Training infrastructure: safe checkpoints, DDP checks, config pre-flight checks (images
decoded once, cached), progress, learning-curve pictures, data-loader workers that exit with
their trainer, and a warm heap (no page faults per step) for timing and deployment."""
from .checkpoint_check import CheckpointMismatchError, check_checkpoint_matches
from .hooks import (CurvesHook, DDPConsistencyHook, ProgressHook, SafeCheckpointHook,
                    draw_curves, parameter_fingerprint)
from .preflight import (DatasetConfigError, check_data_cfg, check_dataset_cfg,
                        check_images_decode)
from .heap import keep_heap
from .progress import Progress, track
from .worker_exit import ExitWithParent, exit_with_parent

__all__ = [
    'CheckpointMismatchError', 'check_checkpoint_matches', 'CurvesHook', 'DDPConsistencyHook',
    'ProgressHook', 'SafeCheckpointHook', 'draw_curves', 'parameter_fingerprint',
    'DatasetConfigError', 'check_data_cfg', 'check_dataset_cfg', 'check_images_decode',
    'keep_heap', 'Progress', 'track', 'ExitWithParent', 'exit_with_parent'
]
