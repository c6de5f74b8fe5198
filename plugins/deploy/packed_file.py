"""Packed model files: a versioned header with a declarative layer table, and a checksummed
safetensors payload. Loading a file never unpickles anything.

Layout (all integers little-endian)::

    bytes 0-7    magic  b'BNNPACK\\0'
    bytes 8-11   format version (uint32), currently FORMAT_VERSION = 2
    bytes 12-15  header length H (uint32)
    bytes 16..   header: UTF-8 JSON (format, word_bits, bit_order, weight_layout,
                 payload_bytes, payload_sha256, layers{name: geometry},
                 modules{name: packed-module spec}, folded_norms, model_cfg, sizes, meta)
    then         payload: the ``safetensors`` serialisation of the exported model's state dict

The module structure is rebuilt, not unpickled: the unexported model is built from the
header's ``model_cfg`` through the mmengine registries (plain JSON data; only registered types
can be named) or given by the caller (``load_packed(path, model=...)``), the header's
``modules`` table says which of its modules become which packed layer (constructor arguments,
post activation, pre-padding), ``folded_norms`` which norms became ``nn.Identity``, and the
state dict is loaded strictly from the safetensors payload (tensors only, parsed by the
safetensors library).

``load_packed`` rejects, with a ``PackedFileError`` naming the problem: a file that is not a
packed model (magic), an unknown format version, a truncated file, a payload whose SHA-256
differs from the header's (corruption), a payload that is not safetensors, a payload whose
tensors do not fit the layer table, and (with ``expect=``) a file packed from another
architecture. Version-1 files (a pickled module) are refused unless the caller passes
``trust_pickle=True`` for a file it made itself.
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import os
import struct
import zlib
from typing import Any, Dict, Optional, Union

import torch
from torch import nn

from .packed_conv import PackedBinaryConv2d
from .packed_linear import PackedBinaryLinear
from .packing import WORD_BITS

MAGIC = b'BNNPACK\0'
FORMAT_VERSION = 2
LEGACY_PICKLE_VERSION = 1
_PREFIX = struct.Struct('<8sII')
PACKED_TYPES = {'PackedBinaryConv2d': PackedBinaryConv2d, 'PackedBinaryLinear': PackedBinaryLinear}

PathLike = Union[str, os.PathLike]


class PackedFileError(ValueError):
    """A packed model file is corrupt, of another version, or does not match the model."""


def layer_table(model: nn.Module) -> Dict[str, Dict[str, Any]]:
    """Geometry of every :class:`PackedBinaryConv2d` of ``model``, by module name."""
    table = {}
    for name, m in model.named_modules():
        if isinstance(m, PackedBinaryConv2d):
            table[name] = dict(in_channels=m.in_channels,
                               out_channels=m.out_channels,
                               kernel_size=list(m.kernel_size),
                               stride=list(m.stride),
                               padding=list(m.padding),
                               dilation=list(m.dilation),
                               groups=m.groups,
                               pad_value=m.pad_value,
                               scale=m.scale_kind,
                               scale_shape=None if m.scale is None else list(m.scale.shape),
                               act_scale=m.act_scale,
                               bias=m.bias is not None,
                               words=list(m.weight_bits.shape))
    return table


def model_sizes(model: nn.Module) -> Dict[str, int]:
    """Parameter accounting of an exported model.

    Returns:
        dict with ``binary_params`` (weight bits in packed layers), ``real_params`` (all other
        parameters and persistent buffers, as float32), ``packed_bytes`` =
        ``real_params * 4 + ceil(binary_params / 8)`` (the CONTRIBUTING.md rule).
    """
    binary = sum(
        math.prod(m.weight_shape) for m in model.modules() if isinstance(m, PackedBinaryConv2d))
    real = 0
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if name.endswith('weight_bits') or not t.is_floating_point():
            continue
        real += t.numel()
    return dict(binary_params=binary,
                real_params=real,
                packed_bytes=real * 4 + math.ceil(binary / 8))


def module_table(model: nn.Module) -> Dict[str, Dict[str, Any]]:
    """The declarative description of the packed modules of an exported model.

    Returns:
        ``{name: spec}`` keyed by the name of the module that replaced a binary layer, with
        ``type`` (``'PackedBinaryConv2d'``/``'PackedBinaryLinear'``), ``args`` (constructor
        keywords), ``post_act`` (the binary layer's post activation follows) and ``pre_pad``
        (``[[left, right, top, bottom], mode]`` or None).
    """
    from .export import PackedWithPostAct
    table, inside = {}, set()
    for name, m in model.named_modules():
        if isinstance(m, PackedWithPostAct):
            conv = m[0]
            inside.add(id(conv))
            table[name] = dict(type=type(conv).__name__, args=conv.constructor_args(),
                               post_act=len(m) > 1,
                               pre_pad=None if m.pre_pad is None else
                               [list(m.pre_pad[0]), m.pre_pad[1]])
    for name, m in model.named_modules():
        if isinstance(m, PackedBinaryConv2d) and id(m) not in inside:
            table[name] = dict(type=type(m).__name__, args=m.constructor_args(),
                               post_act=False, pre_pad=None)
    return table


def save_packed(model: nn.Module, path: PathLike, meta: Optional[dict] = None,
                model_cfg: Optional[dict] = None) -> dict:
    """Write an exported model to ``path`` (tensors in safetensors, structure as JSON).

    Args:
        model: the output of :func:`plugins.deploy.export_binary`.
        path: destination file.
        meta: JSON-serialisable extra information (config path, float checkpoint size ...).
        model_cfg: the mmengine config dict of the *unexported* model (``cfg.model``), so that
            :func:`load_packed` can rebuild it without being given the model. Must be JSON
            data (no classes or functions).

    Returns:
        the header dict that was written.
    """
    from safetensors.torch import save as st_save
    layers = layer_table(model)
    if not layers:
        raise ValueError('save_packed: the model has no PackedBinaryConv2d layer; run '
                         'export_binary(model) first')
    if model_cfg is not None:
        try:
            model_cfg = json.loads(json.dumps(model_cfg))
        except TypeError as e:
            raise ValueError(f'save_packed: model_cfg must be JSON data ({e})') from e
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    payload = st_save(state)
    folded = sorted(m.folded_norm for m in model.modules()
                    if isinstance(m, PackedBinaryConv2d) and m.folded_norm)
    header = dict(format='plugins.deploy.packed',
                  version=FORMAT_VERSION,
                  word_bits=WORD_BITS,
                  bit_order='lsb-first, bit 1 = +1',
                  weight_layout='O x (KH, KW, Cg)',
                  model_class=f'{type(model).__module__}.{type(model).__qualname__}',
                  torch=torch.__version__,
                  payload_bytes=len(payload),
                  payload_format='safetensors',
                  payload_sha256=hashlib.sha256(payload).hexdigest(),
                  layers=layers,
                  modules=module_table(model),
                  folded_norms=folded,
                  model_cfg=model_cfg,
                  sizes=model_sizes(model),
                  meta=meta or {})
    head = json.dumps(header, sort_keys=True).encode()
    tmp = f'{os.fspath(path)}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)))
        f.write(head)
        f.write(payload)
    os.replace(tmp, path)
    return header


def read_header(path: PathLike) -> dict:
    """Read and check the header of a packed file (without loading the model)."""
    return _read(path, payload=False)[0]


def _read(path: PathLike, payload: bool = True):
    path = os.fspath(path)
    with open(path, 'rb') as f:
        data = f.read() if payload else f.read(1 << 24)
    if len(data) < _PREFIX.size:
        raise PackedFileError(f'{path}: {len(data)} bytes is too short for a packed model file '
                              f'(truncated or empty)')
    magic, version, hlen = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise PackedFileError(f'{path}: not a packed binary model file (magic {magic!r}, '
                              f'expected {MAGIC!r}); write one with tools/export_binary.py')
    if version not in (FORMAT_VERSION, LEGACY_PICKLE_VERSION):
        raise PackedFileError(f'{path}: packed file format version {version}, this reader '
                              f'supports versions {LEGACY_PICKLE_VERSION} and {FORMAT_VERSION};'
                              f' re-export the model')
    start = _PREFIX.size
    if len(data) < start + hlen:
        raise PackedFileError(f'{path}: truncated header ({len(data) - start} of {hlen} bytes)')
    try:
        header = json.loads(data[start:start + hlen].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PackedFileError(f'{path}: corrupt header ({e})') from e
    for key in ('payload_bytes', 'payload_sha256', 'layers', 'word_bits'):
        if key not in header:
            raise PackedFileError(f'{path}: corrupt header, no {key!r}')
    if header['word_bits'] != WORD_BITS:
        raise PackedFileError(f'{path}: packed with {header["word_bits"]}-bit words, this '
                              f'reader uses {WORD_BITS}')
    header.setdefault('version', version)
    if header['version'] != version:
        raise PackedFileError(f'{path}: corrupt header (version {header["version"]}, prefix '
                              f'{version})')
    if not payload:
        return header, None
    body = data[start + hlen:]
    if len(body) != header['payload_bytes']:
        raise PackedFileError(f'{path}: payload is {len(body)} bytes, the header says '
                              f'{header["payload_bytes"]} (truncated or appended file)')
    digest = hashlib.sha256(body).hexdigest()
    if digest != header['payload_sha256']:
        raise PackedFileError(f'{path}: payload checksum mismatch (sha256 {digest[:16]}..., '
                              f'header {header["payload_sha256"][:16]}...): the file is corrupt')
    return header, body


def _diff_tables(a: dict, b: dict, what_a: str, what_b: str) -> list:
    problems = []
    for name in sorted(set(a) | set(b)):
        if name not in a:
            problems.append(f'{name}: only in {what_b}')
        elif name not in b:
            problems.append(f'{name}: only in {what_a}')
        else:
            for k in sorted(set(a[name]) | set(b[name])):
                if a[name].get(k) != b[name].get(k):
                    problems.append(f'{name}.{k}: {what_a} {a[name].get(k)}, '
                                    f'{what_b} {b[name].get(k)}')
    return problems


def build_from_cfg(model_cfg: dict, default_scope: str = 'mmpose') -> nn.Module:
    """Build the unexported model from a config dict through the mmengine registries."""
    from mmengine.config import ConfigDict
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(default_scope)
    return MODELS.build(ConfigDict(model_cfg))


def _rebuild(skeleton: nn.Module, header: dict, path) -> nn.Module:
    """Replace the skeleton's binary layers by the packed modules of the header's table."""
    from .export import PackedWithPostAct
    model = skeleton.eval()
    for name in header.get('folded_norms', []):
        _set_module(model, name, nn.Identity(), path)
    for name, spec in header.get('modules', {}).items():
        cls = PACKED_TYPES.get(spec.get('type'))
        if cls is None:
            raise PackedFileError(f'{path}: module {name!r} has type {spec.get("type")!r}; '
                                  f'allowed: {sorted(PACKED_TYPES)}')
        try:
            layer = cls(**spec['args'])
        except (TypeError, ValueError) as e:
            raise PackedFileError(f'{path}: module {name!r}: bad arguments ({e})') from e
        post_act = None
        if spec.get('post_act'):
            post_act = getattr(_get_module(model, name, path), 'post_act', None)
            if post_act is None:
                raise PackedFileError(f'{path}: {name!r} has a post activation in the file '
                                      f'but not in the model')
            post_act = copy.deepcopy(post_act)
        pre_pad = spec.get('pre_pad')
        if post_act is not None or pre_pad is not None:
            layer = PackedWithPostAct(layer, post_act,
                                      None if pre_pad is None else (tuple(pre_pad[0]),
                                                                    pre_pad[1]))
        _set_module(model, name, layer, path)
    return model


def _get_module(model: nn.Module, name: str, path) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError as e:
        raise PackedFileError(f'{path}: the model has no module {name!r}: it is not the '
                              f'architecture the file was packed from') from e


def _set_module(model: nn.Module, name: str, module: nn.Module, path) -> None:
    parent, _, child = name.rpartition('.')
    owner = _get_module(model, parent, path) if parent else model
    _get_module(model, name, path)
    setattr(owner, child, module)


def load_packed(path: PathLike,
                model: Optional[nn.Module] = None,
                expect: Optional[nn.Module] = None,
                trust_pickle: bool = False) -> nn.Module:
    """Load an exported model written by :func:`save_packed`; nothing is unpickled.

    Args:
        path: the packed file.
        model: the unexported (binary training) model to rebuild into, e.g. built from its
            config; it is deep-copied. ``None`` builds it from the header's ``model_cfg``.
        expect: optional model to check the file against: an exported model, or a binary
            (training) model, which is exported for the comparison. Its packed layers must
            have the file's names and geometry.
        trust_pickle: allow a legacy version-1 file, whose payload is a pickle that can run
            code when loaded. Only for files you made yourself.

    Returns:
        the exported model in eval mode.

    Raises:
        PackedFileError: bad magic, unknown version, truncated, checksum mismatch, payload not
            safetensors, tensors that do not fit the layer table, a legacy pickle file without
            ``trust_pickle``, or a mismatch with ``expect``.
    """
    header, body = _read(path)
    if header['version'] == LEGACY_PICKLE_VERSION:
        loaded = _load_legacy(path, header, body, trust_pickle)
    else:
        loaded = _load_safetensors(path, header, body, model)
    problems = _diff_tables(header['layers'], _jsonable(layer_table(loaded)), 'header',
                            'payload')
    if problems:
        raise PackedFileError(f'{path}: payload does not match its header: ' +
                              '; '.join(problems[:5]))
    if expect is not None:
        if not layer_table(expect):
            from .export import export_binary
            expect = export_binary(expect)
        problems = _diff_tables(header['layers'], _jsonable(layer_table(expect)), 'file', 'model')
        if problems:
            more = f' (+{len(problems) - 5} more)' if len(problems) > 5 else ''
            raise PackedFileError(f'{path}: the packed file does not match the given model: ' +
                                  '; '.join(problems[:5]) + more)
    return loaded.eval()


def _load_safetensors(path, header: dict, body: bytes, model: Optional[nn.Module]) -> nn.Module:
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load
    if header.get('payload_format') != 'safetensors':
        raise PackedFileError(f'{path}: payload format {header.get("payload_format")!r}; '
                              f'allowed: safetensors')
    try:
        state = st_load(body)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise PackedFileError(f'{path}: the payload is not a valid safetensors file '
                              f'({type(e).__name__}: {e})') from e
    if model is not None:
        skeleton = copy.deepcopy(model)
    elif header.get('model_cfg') is not None:
        skeleton = build_from_cfg(header['model_cfg'])
    else:
        raise PackedFileError(f'{path}: the file holds no model config; pass the unexported '
                              f'model: load_packed(path, model=...)')
    rebuilt = _rebuild(skeleton, header, path)
    try:
        rebuilt.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise PackedFileError(f'{path}: the tensors do not fit the model rebuilt from the '
                              f'layer table: {str(e)[:400]}') from e
    from .export import fuse_for_inference
    fuse_for_inference(rebuilt)  # run time only: the same values, no state of their own
    return rebuilt


def _load_legacy(path, header: dict, body: bytes, trust_pickle: bool) -> nn.Module:
    if not trust_pickle:
        raise PackedFileError(
            f'{path}: format version {LEGACY_PICKLE_VERSION} stores a pickled module, which can '
            f'run code when loaded: refused. Re-export the model (format {FORMAT_VERSION}, '
            f'safetensors), or pass trust_pickle=True for a file you made yourself.')
    if header.get('payload_compression') not in (None, 'zlib'):
        raise PackedFileError(f'{path}: unknown payload compression '
                              f'{header["payload_compression"]!r}; allowed: zlib')
    try:
        if header.get('payload_compression') == 'zlib':
            body = zlib.decompress(body)
        loaded = torch.load(io.BytesIO(body), map_location='cpu', weights_only=False)
    except Exception as e:  # noqa: BLE001 (a corrupt pickle raises many kinds)
        raise PackedFileError(f'{path}: the payload does not load ({type(e).__name__}: {e})') \
            from e
    if not isinstance(loaded, nn.Module):
        raise PackedFileError(f'{path}: the payload is a {type(loaded).__name__}, not a module')
    return loaded


def _jsonable(table: dict) -> dict:
    return json.loads(json.dumps(table))


def size_report(float_model: Optional[nn.Module],
                packed_path: PathLike,
                float_checkpoint: Optional[PathLike] = None) -> dict:
    """Sizes of the float checkpoint and the packed file.

    Args:
        float_model: the trained (fake-binarised) model; its ``state_dict`` is serialised to
            measure the float checkpoint when ``float_checkpoint`` is not given.
        packed_path: the packed file.
        float_checkpoint: an existing checkpoint file to measure instead.

    Returns:
        dict with ``float_bytes``, ``packed_file_bytes``, ``ratio`` (float / packed) and the
        header's ``binary_params``, ``real_params``, ``packed_bytes`` (theoretical).
    """
    if float_checkpoint is not None:
        float_bytes = os.path.getsize(float_checkpoint)
    else:
        buf = io.BytesIO()
        torch.save(float_model.state_dict(), buf)
        float_bytes = len(buf.getvalue())
    packed = os.path.getsize(packed_path)
    out = dict(float_bytes=float_bytes, packed_file_bytes=packed, ratio=float_bytes / packed)
    out.update(read_header(packed_path)['sizes'])
    return out
