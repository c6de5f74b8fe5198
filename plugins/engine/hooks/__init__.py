from .curves_hook import CurvesHook, draw_curves
from .ddp_consistency_hook import DDPConsistencyHook, parameter_fingerprint
from .progress_hook import ProgressHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = ['CurvesHook', 'draw_curves', 'DDPConsistencyHook', 'ProgressHook',
           'SafeCheckpointHook', 'parameter_fingerprint']
