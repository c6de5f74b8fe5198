"""Training infrastructure: safe checkpoints, DDP checks, config pre-flight checks."""
from .checkpoint_check import CheckpointMismatchError, check_checkpoint_matches
from .hooks import DDPConsistencyHook, SafeCheckpointHook, parameter_fingerprint
from .preflight import DatasetConfigError, check_data_cfg, check_dataset_cfg

__all__ = [
    'CheckpointMismatchError', 'check_checkpoint_matches', 'DDPConsistencyHook',
    'SafeCheckpointHook', 'parameter_fingerprint', 'DatasetConfigError', 'check_data_cfg',
    'check_dataset_cfg'
]
