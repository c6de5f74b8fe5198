"""Packed model files: a versioned header, a layer table and a checksummed payload.

Layout (all integers little-endian)::

    bytes 0-7    magic  b'BNNPACK\\0'
    bytes 8-11   format version (uint32), currently FORMAT_VERSION
    bytes 12-15  header length H (uint32)
    bytes 16..   header: UTF-8 JSON (format, word_bits, bit_order, weight_layout,
                 payload_bytes, payload_sha256, layers{name: geometry}, sizes, meta)
    then         payload: zlib-compressed ``torch.save`` of the exported ``nn.Module``
                 (the packed bits do not compress; the pickled module structure does, 2-3x)

``load_packed`` rejects, with a ``PackedFileError`` naming the problem: a file that is not a
packed model (magic), another format version, a truncated file, a payload whose SHA-256
differs from the header's (corruption), a payload whose packed layers do not match the header's
layer table, and (with ``expect=``) a file packed from another architecture.

The payload is a pickle (the module classes are imported when loading): load files you trust.
The packed layers hold no training code (no latent weights, quantisers, scaling modules).
"""
from __future__ import annotations

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
from .packing import WORD_BITS

MAGIC = b'BNNPACK\0'
FORMAT_VERSION = 1
_PREFIX = struct.Struct('<8sII')

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


def save_packed(model: nn.Module, path: PathLike, meta: Optional[dict] = None) -> dict:
    """Write an exported model to ``path``.

    Args:
        model: the output of :func:`plugins.deploy.export_binary`.
        path: destination file.
        meta: JSON-serialisable extra information (config path, float checkpoint size ...).

    Returns:
        the header dict that was written.
    """
    layers = layer_table(model)
    if not layers:
        raise ValueError('save_packed: the model has no PackedBinaryConv2d layer; run '
                         'export_binary(model) first')
    buf = io.BytesIO()
    torch.save(model, buf)
    payload = zlib.compress(buf.getvalue(), 6)
    header = dict(format='plugins.deploy.packed',
                  version=FORMAT_VERSION,
                  word_bits=WORD_BITS,
                  bit_order='lsb-first, bit 1 = +1',
                  weight_layout='O x (KH, KW, Cg)',
                  model_class=f'{type(model).__module__}.{type(model).__qualname__}',
                  torch=torch.__version__,
                  payload_bytes=len(payload),
                  payload_compression='zlib',
                  payload_sha256=hashlib.sha256(payload).hexdigest(),
                  layers=layers,
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
    if version != FORMAT_VERSION:
        raise PackedFileError(f'{path}: packed file format version {version}, this reader '
                              f'supports version {FORMAT_VERSION} only; re-export the model')
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


def load_packed(path: PathLike, expect: Optional[nn.Module] = None) -> nn.Module:
    """Load an exported model written by :func:`save_packed`.

    Args:
        path: the packed file.
        expect: optional model to check the file against: an exported model, or a binary
            (training) model, which is exported for the comparison. Its packed layers must
            have the file's names and geometry.

    Returns:
        the exported model in eval mode.

    Raises:
        PackedFileError: bad magic, other version, truncated, checksum mismatch, payload
            inconsistent with the header, or mismatch with ``expect``.
    """
    header, body = _read(path)
    if header.get('payload_compression') not in (None, 'zlib'):
        raise PackedFileError(f'{path}: unknown payload compression '
                              f'{header["payload_compression"]!r}; allowed: zlib')
    try:
        if header.get('payload_compression') == 'zlib':
            body = zlib.decompress(body)
        model = torch.load(io.BytesIO(body), map_location='cpu', weights_only=False)
    except Exception as e:  # noqa: BLE001 (a corrupt pickle raises many kinds)
        raise PackedFileError(f'{path}: the payload does not load ({type(e).__name__}: {e})') \
            from e
    if not isinstance(model, nn.Module):
        raise PackedFileError(f'{path}: the payload is a {type(model).__name__}, not a module')
    problems = _diff_tables(header['layers'], _jsonable(layer_table(model)), 'header', 'payload')
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
    return model.eval()


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
