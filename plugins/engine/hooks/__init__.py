from .ddp_consistency_hook import DDPConsistencyHook, parameter_fingerprint
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ['DDPConsistencyHook', 'SafeCheckpointHook', 'parameter_fingerprint']
