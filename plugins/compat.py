"""Compatibility with the installed OpenMMLab stack: the only module that adapts it.

The toolbox runs on ``mmcv-lite`` (mmcv without compiled ops), without ``mmdet``, and on
torch >= 2.6, whose :func:`torch.load` defaults to ``weights_only=True``. The adaptations,
all installed by :func:`install` (called once by ``import plugins``):

1. **mmcv.ops.** MMPose 1.3.2 imports ``mmcv.ops.MultiScaleDeformableAttention`` at import time
   (its ED-Pose head), and ``mmcv.ops`` cannot import without mmcv's compiled ``_ext``. When the
   real module is missing, a stand-in ``mmcv.ops`` module is registered. It provides
   placeholder classes only for the names MMPose imports unconditionally; building one raises
   :class:`CompiledOpsUnavailable`, which says what to install. Every other name raises
   :class:`ImportError`, so MMPose's own ``try: from mmcv.ops import ...`` fallbacks still work.
2. **mmdet.utils.** MMPose's RTMO head imports ``ConfigType`` and ``reduce_mean`` from
   ``mmdet.utils`` (which would pull in ``mmcv.ops``). When mmdet is not installed, a stand-in
   package ``mmdet`` with just ``mmdet.utils`` provides these two (pure Python/torch); every
   other ``mmdet`` submodule is missing, so optional mmdet features stay off.
3. **Checkpoints.** mmengine saves, besides tensors, a few plain Python/numpy objects (the
   message hub's ``HistoryBuffer``, numpy arrays and scalars of ``dataset_meta``; a zero-size
   array's empty data is pickled as ``bytes()``, allowed through a stand-in that accepts only
   the empty call).
   :func:`allow_checkpoint_globals` adds exactly these classes to torch's ``weights_only``
   allow-list, so ``resume=True`` and ``load_from`` work without trusting arbitrary pickles.
   mmengine's local-file loader is replaced by :func:`load_local_checkpoint`, which turns
   torch's low-level errors (truncated file, disallowed global) into one message that names
   the file.
4. **CPU data-parallel training.** mmengine 0.10.7's PyTorch launcher calls
   ``torch.cuda.set_device`` unconditionally, and its Runner wraps the model in DDP with
   ``device_ids=[LOCAL_RANK]``; both fail on a machine without GPUs. Without CUDA, the
   launcher initialises the process group (``gloo``) without the first, and
   ``MMDistributedDataParallel`` drops ``device_ids`` for a CPU module, so
   ``tools/dist_train.sh`` runs DDP on CPUs.
5. **Drawing under numpy 2.** MMPose 1.3's OpenCV visualiser calls ``int()`` on one-element
   arrays (a keypoint's radius), which numpy 2 refuses; ``tools/test.py --show-dir`` would
   fail. Its ``draw_circles`` gets scalar arguments.
6. **Unknown registry types.** mmengine's builder says ``X is not in the mmpose::model
   registry`` and mmcv's layer builders (``build_conv_layer``, ``build_norm_layer`` ...) say
   ``Cannot find None in registry``. ``Registry.get`` is wrapped so that a failed lookup made
   by one of these builders (which raise right after it) raises
   :class:`UnknownTypeError` instead: it names the bad type, the registry, and the closest
   registered names (``did you mean 'BinaryConv2d'?``). Lookups from anywhere else still
   return ``None`` as mmengine documents.
7. **Data-loader workers exit with their trainer.** ``Runner.build_dataloader`` is wrapped
   so that every loader with workers gets :class:`plugins.engine.worker_exit.ExitWithParent`
   before its own ``worker_init_fn``: after ``kill -9`` of the trainer its workers get
   ``SIGKILL`` from the kernel instead of living on.
8. **Benign warnings.** Messages of the installed stack that no config can avoid, each
   filtered by its text *and* the module that issues it (:data:`BENIGN_WARNINGS`,
   :data:`BENIGN_LOGS`); nothing else is filtered. Those that could be fixed at their source
   were: the MPII metainfo file exists (``configs/_base_/datasets/mpii.py``, named by
   absolute path), and under mmcv-lite ``mmcv.ops`` is not imported for a probe (which warned
   about ``MultiScaleDeformableAttention``) but replaced, with its submodule, right away.
"""
from __future__ import annotations

import importlib
import importlib.util
import os.path as osp
import pickle
import sys
import types
from typing import Any, Iterable

import torch

__all__ = [
    'CompiledOpsUnavailable', 'CheckpointError', 'UnknownTypeError', 'install', 'allow_checkpoint_globals',
    'load_local_checkpoint', 'HAS_MMCV_OPS', 'MMCV_OPS_PLACEHOLDERS'
]

#: Names of ``mmcv.ops`` that MMPose 1.3.2 imports outside a ``try`` block.
MMCV_OPS_PLACEHOLDERS = ('MultiScaleDeformableAttention', )

HAS_MMCV_OPS: bool = False


class CompiledOpsUnavailable(ImportError):
    """Raised when a model needs one of mmcv's compiled ops, which mmcv-lite lacks."""


class CheckpointError(RuntimeError):
    """Raised when a checkpoint file cannot be read; the message names the file."""


class UnknownTypeError(KeyError):
    """A config names a type that is not registered; the message suggests the closest names."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ''


def _ops_message(name: str) -> str:
    return (f'mmcv.ops.{name} needs mmcv built with its compiled ops, but this environment has '
            f'mmcv-lite (no compiled ops). Models that use it (for example MMPose\'s ED-Pose, '
            f'DEKR and PoseWarper) cannot be built here. Install the full package '
            f'(`pip install mmcv==2.1.0`, which compiles its C++/CUDA ops, about an hour on 2 '
            f'cores) and remove mmcv-lite, or choose a model without this op.')


def _placeholder(name: str) -> type:
    """A class that stands for a compiled op and raises a clear error when built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise CompiledOpsUnavailable(_ops_message(name))

    return type(name, (torch.nn.Module, ), {
        '__init__': __init__,
        '__doc__': f'Placeholder for mmcv.ops.{name} (unavailable with mmcv-lite).',
        '__module__': 'mmcv.ops',
    })


def _install_mmcv_ops() -> None:
    global HAS_MMCV_OPS
    if 'mmcv.ops' in sys.modules and getattr(sys.modules['mmcv.ops'], '__compat_shim__', False):
        return
    if importlib.util.find_spec('mmcv._ext') is not None:  # full mmcv: its compiled ops
        try:
            importlib.import_module('mmcv.ops')
            HAS_MMCV_OPS = True
            return
        except ImportError:
            pass
    # No import attempt under mmcv-lite: a failing `import mmcv.ops` imports
    # mmcv.cnn.bricks.transformer on the way, which warns that MultiScaleDeformableAttention
    # is missing; with the stand-in (and its submodule) in place that import succeeds.
    import mmcv
    module = types.ModuleType('mmcv.ops', 'Stand-in for mmcv.ops under mmcv-lite.')
    module.__compat_shim__ = True
    module.__path__ = []  # a package, so that its stand-in submodule imports
    for name in MMCV_OPS_PLACEHOLDERS:
        setattr(module, name, _placeholder(name))
    deform_attn = types.ModuleType('mmcv.ops.multi_scale_deform_attn',
                                   'Stand-in for mmcv.ops.multi_scale_deform_attn.')
    deform_attn.MultiScaleDeformableAttention = module.MultiScaleDeformableAttention
    module.multi_scale_deform_attn = deform_attn
    sys.modules['mmcv.ops.multi_scale_deform_attn'] = deform_attn

    def __getattr__(name: str) -> Any:
        if name.startswith('__'):
            raise AttributeError(name)
        raise CompiledOpsUnavailable(_ops_message(name))

    module.__getattr__ = __getattr__
    sys.modules['mmcv.ops'] = module
    mmcv.ops = module


def _reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean of ``tensor`` over all distributed processes (identity when not distributed)."""
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor.div_(dist.get_world_size()), op=dist.ReduceOp.SUM)
    return tensor


def _install_mmdet_utils() -> None:
    if 'mmdet' in sys.modules:
        return
    try:
        importlib.import_module('mmdet.utils')
        return
    except ImportError:
        for name in [m for m in sys.modules if m == 'mmdet' or m.startswith('mmdet.')]:
            del sys.modules[name]
    from mmengine.config import ConfigDict
    package = types.ModuleType('mmdet', 'Stand-in: mmdet is not installed (see plugins.compat).')
    package.__path__ = []  # a package, so that missing submodules raise ModuleNotFoundError
    package.__compat_shim__ = True
    utils = types.ModuleType('mmdet.utils', 'The two mmdet.utils names that MMPose imports.')
    utils.ConfigType = ConfigDict | dict
    utils.OptConfigType = ConfigDict | dict | None
    utils.reduce_mean = _reduce_mean
    package.utils = utils
    sys.modules['mmdet'] = package
    sys.modules['mmdet.utils'] = utils


def _checkpoint_globals() -> list:
    """The non-tensor classes that mmengine/MMPose checkpoints contain."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer

    found: list = [HistoryBuffer, np.ndarray, np.dtype]
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct, scalar
    found += [_reconstruct, scalar]
    found += [(_history_buffer_getattr, 'builtins.getattr'),
              (_history_buffer_getattr, '__builtin__.getattr'),
              (_empty_bytes, 'builtins.bytes'), (_empty_bytes, '__builtin__.bytes')]
    # the dtype classes (numpy >= 1.25 pickles dtypes through them)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return found


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` restricted to the statistics methods of mmengine's ``HistoryBuffer``.

    mmengine pickles ``HistoryBuffer._statistics_methods`` as ``getattr(HistoryBuffer, 'min')``
    and so on. Allowing the real ``getattr`` would allow arbitrary code; this stand-in resolves
    only those lookups.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) while loading a checkpoint: only '
        f'HistoryBuffer statistics methods are allowed')


def _empty_bytes(*args: Any) -> bytes:
    """``bytes()`` with no arguments: how pickle protocol 2 stores an empty ``bytes``.

    A zero-size numpy array (MMPose's ``sigmas=[]`` of 300W, AFLW and WFLW) pickles its raw
    data as ``bytes()``; non-empty data goes through ``_codecs.encode``, which torch allows.
    Only the empty call is allowed: ``bytes(n)`` would allocate whatever size the file asks.
    """
    if args:
        raise pickle.UnpicklingError(
            f'refusing bytes{args!r} while loading a checkpoint: only bytes() (the empty data '
            f'of a zero-size array) is allowed')
    return b''


def allow_checkpoint_globals(extra: Iterable[Any] = ()) -> None:
    """Allow the classes mmengine checkpoints hold in ``torch.load(weights_only=True)``.

    Args:
        extra: more classes or functions to allow (for a checkpoint of your own that stores
            other objects). Only allow what you trust to be unpickled.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(_checkpoint_globals() + list(extra))


def load_local_checkpoint(filename: str, map_location: Any = None) -> dict:
    """Load a local checkpoint with ``weights_only`` kept on, with errors that name the file.

    Args:
        filename: path of the checkpoint.
        map_location: as in :func:`torch.load`.

    Returns:
        The loaded checkpoint.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: the file is truncated, corrupt, or holds objects outside the
            allow-list.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f'checkpoint {filename} holds objects that are not on the weights_only allow-list '
            f'({str(err).splitlines()[0]}). If you trust this file, allow the class with '
            f'plugins.compat.allow_checkpoint_globals([...]).') from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f'checkpoint {filename} cannot be read: it is truncated or not a '
                              f'torch checkpoint ({str(err).splitlines()[0]})') from err


def _install_checkpoint_loader() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader
    allow_checkpoint_globals()
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_local_checkpoint)


def _install_cpu_dist_launch() -> None:
    import mmengine.dist.utils as dist_utils
    original = dist_utils._init_dist_pytorch
    if getattr(original, '__compat_shim__', False):
        return

    def _init_dist_pytorch(backend: str = 'gloo', init_backend: str = 'torch', **kwargs):
        if torch.cuda.is_available() or init_backend != 'torch':
            return original(backend, init_backend=init_backend, **kwargs)
        if backend != 'gloo':
            raise ValueError(f'distributed backend {backend!r} needs GPUs; on CPUs set '
                             f'env_cfg.dist_cfg.backend="gloo"')
        torch.distributed.init_process_group(backend=backend, **kwargs)

    _init_dist_pytorch.__compat_shim__ = True
    dist_utils._init_dist_pytorch = _init_dist_pytorch

    from mmengine.model import MMDistributedDataParallel
    ddp_init = MMDistributedDataParallel.__init__

    def __init__(self, module, detect_anomalous_params: bool = False, **kwargs):
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu and not torch.cuda.is_available():
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        ddp_init(self, module=module, detect_anomalous_params=detect_anomalous_params,
                 **kwargs)

    MMDistributedDataParallel.__init__ = __init__


#: Builders that raise a ``KeyError`` right after their ``Registry.get`` returns ``None``:
#: (module, function) -> what the type is called in the message.
_RAISING_LOOKUPS = {
    ('mmengine.registry.build_functions', 'build_from_cfg'): '',
    ('mmengine.registry.build_functions', 'build_runner_from_cfg'): 'runner ',
    ('mmengine.registry.build_functions', 'build_scheduler_from_cfg'): 'scheduler ',
    ('mmcv.cnn.bricks.conv', 'build_conv_layer'): 'conv ',
    ('mmcv.cnn.bricks.norm', 'build_norm_layer'): 'norm ',
    ('mmcv.cnn.bricks.padding', 'build_padding_layer'): 'padding ',
    ('mmcv.cnn.bricks.plugin', 'build_plugin_layer'): 'plugin ',
    ('mmcv.cnn.bricks.upsample', 'build_upsample_layer'): 'upsample ',
}


def registered_names(registry: Any) -> list:
    """The names ``registry.get`` resolves without a scope: its own and its ancestors'."""
    names, node = [], registry
    while node is not None:
        names += list(node._module_dict)
        node = node.parent
    return sorted(set(names))


def unknown_type_message(key: str, registry: Any, kind: str = '') -> str:
    """``Unknown conv type 'BinaryConv2D' in the mmengine::model registry; did you mean
    'BinaryConv2d'?`` (difflib's closest names, case-insensitive matches first)."""
    import difflib
    names = registered_names(registry)
    real_key = key.split('.')[-1]
    close = [n for n in names if n.lower() == real_key.lower()]
    lowered = {n.lower(): n for n in names}
    close += [lowered[n] for n in difflib.get_close_matches(real_key.lower(), list(lowered),
                                                             n=3, cutoff=0.6)]
    close = list(dict.fromkeys(close))[:3]
    hint = (f'did you mean {" or ".join(repr(n) for n in close)}?' if close else
            f'no registered name is close; {len(names)} are registered, e.g. {names[:8]}')
    return (f'Unknown {kind}type {key!r} in the {registry.scope}::{registry.name} registry; '
            f'{hint} (a type of your own must be imported first, e.g. with '
            f'custom_imports=dict(imports=[...]) in the config)')


def _install_registry_suggestions() -> None:
    from mmengine.registry import Registry
    original = Registry.get
    if getattr(original, '__compat_shim__', False):
        return

    def get(self, key):
        found = original(self, key)
        if found is None and isinstance(key, str):
            caller = sys._getframe(1)
            kind = _RAISING_LOOKUPS.get((caller.f_globals.get('__name__'),
                                         caller.f_code.co_name))
            if kind is not None:  # the caller raises a KeyError without the name next
                raise UnknownTypeError(unknown_type_message(key, self, kind))
        return found

    get.__compat_shim__ = True
    get.__doc__ = original.__doc__
    Registry.get = get


def _install_worker_exit() -> None:
    from mmengine.runner import Runner
    from torch.utils.data import DataLoader
    original = Runner.build_dataloader
    if getattr(original, '__compat_shim__', False):
        return

    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        loader = original(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        if isinstance(loader, DataLoader) and loader.num_workers > 0:
            from plugins.engine.worker_exit import ExitWithParent
            loader.worker_init_fn = ExitWithParent(loader.worker_init_fn)
        return loader

    build_dataloader.__compat_shim__ = True
    build_dataloader.__doc__ = original.__doc__
    Runner.build_dataloader = staticmethod(build_dataloader)


def _scalar(value: Any) -> Any:
    """A one-element array or tensor as a Python number; anything else unchanged."""
    import numpy as np
    if (isinstance(value, np.ndarray) and value.size == 1
            or isinstance(value, torch.Tensor) and value.numel() == 1):
        return value.reshape(-1)[0].item()
    return value


def _install_numpy2_drawing() -> None:
    from mmpose.visualization.opencv_backend_visualizer import OpencvBackendVisualizer
    original = OpencvBackendVisualizer.draw_circles
    if getattr(original, '__compat_shim__', False):
        return

    def draw_circles(self, center, radius, face_colors='none', alpha: float = 1.0, **kwargs):
        if self.backend == 'opencv':
            center = [_scalar(c) for c in center]
            radius = _scalar(radius)
        return original(self, center, radius, face_colors=face_colors, alpha=alpha, **kwargs)

    draw_circles.__compat_shim__ = True
    OpencvBackendVisualizer.draw_circles = draw_circles


#: ``(message regex, issuing module, why)`` of Python warnings that are expected and harmless.
BENIGN_WARNINGS = (
    (r'Use the existing "bbox_center" and "bbox_scale"',
     'mmpose.datasets.transforms.common_transforms',
     'MPII-style annotations give a centre and scale; GetBBoxCenterScale pads the scale, as '
     'the configs intend'),
)
#: ``(message regex, issuing module, why)`` of mmengine log warnings that are expected.
BENIGN_LOGS = (
    (r'The prefix is not set in metric class ', 'mmengine.evaluator.metric',
     'metrics keep their plain names (PCK, NME, ...), which configs (save_best) and tools read'),
    (r'"FileClient" will be deprecated in future', 'mmengine.fileio.file_client',
     "mmengine's own CheckpointHook builds one for backward compatibility"),
    (r'"HardDiskBackend" is the alias of "LocalBackend"', 'mmengine.fileio.file_client',
     "the same FileClient of mmengine's CheckpointHook"),
)


class _BenignLogFilter:
    """Drops a log record whose message matches :data:`BENIGN_LOGS` *and* that was logged from
    the module named there (looked up on the call stack, a few frames up)."""

    def __init__(self) -> None:
        import re
        self.rules = [(re.compile(msg), module) for msg, module, _ in BENIGN_LOGS]

    def filter(self, record: Any) -> bool:
        message = record.getMessage()
        for pattern, module in self.rules:
            if pattern.search(message) and _called_from(module):
                return False
        return True


def _called_from(module: str, depth: int = 12) -> bool:
    frame = sys._getframe(1)
    for _ in range(depth):
        if frame is None:
            return False
        if frame.f_globals.get('__name__') == module:
            return True
        frame = frame.f_back
    return False


def _install_benign_warning_filters() -> None:
    import warnings

    from mmengine.logging import MMLogger
    for message, module, _ in BENIGN_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=UserWarning,
                                module=module.replace('.', r'\.'))
    original = MMLogger.__init__
    if getattr(original, '__compat_shim__', False):
        return
    log_filter = _BenignLogFilter()

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.addFilter(log_filter)

    __init__.__compat_shim__ = True
    __init__.__doc__ = original.__doc__
    MMLogger.__init__ = __init__
    for logger in MMLogger._instance_dict.values():  # loggers made before the install
        logger.addFilter(log_filter)


_INSTALLED = False


def install() -> None:
    """Install the adaptations (idempotent). Called by ``import plugins``."""
    global _INSTALLED
    if _INSTALLED:
        return
    _install_mmcv_ops()
    _install_mmdet_utils()
    _install_checkpoint_loader()
    _install_cpu_dist_launch()
    _install_numpy2_drawing()
    _install_registry_suggestions()
    _install_worker_exit()
    _install_benign_warning_filters()
    _INSTALLED = True
