"""Elementwise passes of binary training as C++ (``csrc/train_ops.cpp``) on CPU, with the
torch-op path for everything else.

What the binary layer adds to a float convolution's training step are memory-bound passes over
activation-sized tensors; on CPU with contiguous float32 tensors these are one C++ pass each
(AVX2 where the CPU has it, ``torch.get_num_threads()`` OpenMP threads):

* :func:`sign_ste_forward`: ``sign_bit(x)`` and, in the same pass, the clipped
  straight-through mask as one bit per element (``torch.copysign`` is ~1.7x slower, and the
  torch path keeps ``x`` or a bool mask for the backward);
* :func:`sign_ste_backward`: the straight-through gradient in place from those bits (reads
  1/32 of ``x``'s bytes instead of ``x``);
* :func:`scale_forward`: ``y * s (+ bias)`` for a spatial scale ``s``;
* :func:`scale_backward`: ``grad_y = grad * s`` and ``grad_s = sum_n grad[n] * y[n]`` in one
  pass (torch: two).

Otherwise (CUDA, other dtypes, strided tensors, no compiler) the same functions run torch
ops. Both paths give the same bits: the sign and the masks are exact, every product rounds
once, a product plus a sum rounds as torch's ``addcmul`` (one fused multiply-add where the CPU
has FMA), and the batch sum of ``grad_s`` runs ``n = 0, 1, ...`` at every element in both (see
the C++ file). One exception: the straight-through gradient at a NaN input is 0 in the C++
pass, and in torch's ``hardtanh_backward`` 0 in its vectorised body but kept in its scalar
remainder loop (which positions depends on the length), so the paths may differ there.

The library is compiled on first use, never at import
(:func:`plugins.deploy.build.compiled_library`, cached by source hash). Without a compiler, or
with ``PLUGINS_BINARY_NATIVE=0`` in the environment, the torch path is used.

The outputs of the C++ passes are allocated from a pool of buffers reused once no tensor
uses them (:func:`pooled_empty`), so that a training step does not page-fault on fresh
allocations that the allocator has returned to the kernel since the last step.
"""
from __future__ import annotations

import ctypes
import math
import threading
from pathlib import Path
from typing import Optional, Tuple

import torch
from torch import Tensor

from ..deploy.build import LazyLibrary
from .quantizers import sign_bit, ste_grad, ste_saved

SOURCE = Path(__file__).parent / 'csrc' / 'train_ops.cpp'

_lock = threading.Lock()
_pool: dict = {}


def _declare(lib: ctypes.CDLL) -> None:
    P, I, L = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
    lib.bnn_sign_mask.argtypes = [P, P, P, L, ctypes.c_float, I]
    lib.bnn_mask_grad.argtypes = [P, P, L, I, I]
    lib.bnn_scale_forward.argtypes = [P, P, P, P, I, L, L, L, I]
    lib.bnn_scale_backward.argtypes = [P, P, P, I, P, P, L, L, L, I]
    for fn in (lib.bnn_sign_mask, lib.bnn_mask_grad, lib.bnn_scale_forward,
               lib.bnn_scale_backward):
        fn.restype = I


_library = LazyLibrary(SOURCE, _declare, 'binary training ops', env='PLUGINS_BINARY_NATIVE')


def native_enabled() -> bool:
    """False when ``PLUGINS_BINARY_NATIVE=0`` is set (the torch path everywhere)."""
    return _library.enabled()


def native_library() -> Optional[ctypes.CDLL]:
    """The compiled ``train_ops`` library, built on the first call; ``None`` if disabled or if it
    cannot be built (no compiler: one warning, then the torch path)."""
    return _library()


def pooled_empty(shape, dtype: torch.dtype = torch.float32) -> Tensor:
    """An uninitialised contiguous CPU tensor whose memory is reused between steps: a buffer of
    the same size from a process-wide pool that no tensor uses any more (its storage has no
    other user: every tensor, view or autograd-saved tensor made from it is gone), else a new
    one added to the pool. What it saves are the page faults of a fresh allocation that glibc
    maps anew after an earlier step returned the memory to the kernel (~2 k faults per 8 MB).
    The returned tensor is not a view (in-place ops on it behave as on a fresh tensor).

    The pool keeps, per size, as many buffers as were ever in use at once (the peak of the
    native ops' outputs, like a caching allocator); :func:`clear_pool` releases them. Without
    torch's storage use count (another torch version), a fresh tensor is returned.
    """
    shape = tuple(int(v) for v in shape)
    numel = math.prod(shape)
    use_count = getattr(torch._C, '_storage_Use_Count', None)
    if use_count is None:
        return torch.empty(shape, dtype=dtype)
    strides = tuple(math.prod(shape[i + 1:]) for i in range(len(shape)))
    with _lock:
        buffers = _pool.setdefault((numel, dtype), [])
        # most recently handed out first: likely the most recently used memory, still in cache
        for i in range(len(buffers) - 1, -1, -1):
            storage = buffers[i].untyped_storage()
            if use_count(storage._cdata) == 2:  # ``buffers[i]`` and ``storage``: nobody else
                buffers.append(buffers.pop(i))
                break
        else:
            buffers.append(torch.empty(numel, dtype=dtype))
            storage = buffers[-1].untyped_storage()
        return torch.empty(0, dtype=dtype).set_(storage, 0, shape, strides)


def clear_pool() -> None:
    """Drop the pool of :func:`pooled_empty` (buffers still in use stay alive with their users)."""
    with _lock:
        _pool.clear()


def _ptr(t: Optional[Tensor]) -> Optional[int]:
    return None if t is None else t.data_ptr()


def _native(*tensors: Optional[Tensor]) -> bool:
    """All given tensors are CPU, float32 and contiguous (the C++ passes' domain)."""
    return all(t is None or (t.device.type == 'cpu' and t.dtype == torch.float32
                             and t.is_contiguous()) for t in tensors)


def _check(rc: int, name: str, *shapes) -> None:
    if rc != 0:
        raise RuntimeError(f'{name} failed (code {rc}) for shapes {shapes}')


# ----- sign + straight-through mask ----------------------------------------------------------

def sign_ste_forward(x: Tensor, clip: Optional[float], save_mask: bool, need_grad: bool,
                     native: bool = True) -> Tuple[Tensor, Optional[Tensor], bool]:
    """``sign_bit(x)`` and what the clipped straight-through backward needs.

    Args:
        x: input, any shape.
        clip: the straight-through clip (``None``: identity gradient, nothing saved).
        save_mask: the torch path saves a bool mask ``|x| < clip`` instead of ``x``.
        need_grad: whether ``x`` needs a gradient (else nothing is saved).
        native: allow the C++ pass (CPU contiguous float32 only).

    Returns:
        ``(xb, saved, bits)``: ``xb`` in {-1, +1} of ``x``'s shape; ``saved`` for
        :func:`sign_ste_backward`; ``bits`` True if ``saved`` is the C++ pass's packed mask
        (int32 words, 1 bit per element of ``x``), False if it is :func:`ste_saved`'s result.
    """
    want_mask = need_grad and clip is not None
    lib = native_library() if native and _native(x) else None
    if lib is None:
        return sign_bit(x), ste_saved(x, clip, save_mask) if need_grad else None, False
    xb = pooled_empty(x.shape)
    bits = pooled_empty(((x.numel() + 31) // 32, ), torch.int32) if want_mask else None
    _check(lib.bnn_sign_mask(_ptr(x), _ptr(xb), _ptr(bits), x.numel(),
                             float(clip) if want_mask else 0.0, torch.get_num_threads()),
           'bnn_sign_mask', tuple(x.shape))
    return xb, bits, bits is not None


def sign_ste_backward(grad: Tensor, saved: Optional[Tensor], clip: Optional[float],
                      save_mask: bool, bits: bool) -> Tensor:
    """The clipped straight-through gradient ``grad * 1{x inside the clip}``, written into
    ``grad`` (a gradient the caller owns), from :func:`sign_ste_forward`'s ``saved``."""
    if not bits or clip is None:
        return ste_grad(grad, saved, clip, save_mask, inplace=True)
    lib = native_library()
    if grad.is_contiguous() and grad.dtype == torch.float32 and grad.device.type == 'cpu':
        _check(lib.bnn_mask_grad(_ptr(grad), _ptr(saved), grad.numel(), int(bool(save_mask)),
                                 torch.get_num_threads()), 'bnn_mask_grad', tuple(grad.shape))
        return grad
    # a strided gradient (not from convolution_backward): unpack the bits (x's element order)
    shifts = torch.arange(32, dtype=torch.int32)
    keep = ((saved.view(-1, 1) >> shifts) & 1).view(-1)[:grad.numel()].view(grad.shape)
    if save_mask:
        return grad.mul_(keep.bool())
    return grad.masked_fill_(keep == 0, 0.0)


# ----- spatial output scale --------------------------------------------------------------------

def _native_layout(grad: Tensor, y: Tensor, s: Tensor) -> Optional[int]:
    """``1`` if ``s`` is (O, H, W), ``0`` if (H, W) or (1, H, W), for a native call on CPU
    contiguous float32 (N, O, H, W) tensors; ``None`` if the torch path must be used."""
    if grad.dim() != 4 or grad.shape != y.shape or not _native(grad, y, s):
        return None
    if tuple(s.shape) == tuple(grad.shape[1:]):
        return 1
    if s.dim() in (2, 3) and tuple(s.shape[-2:]) == tuple(grad.shape[2:]) and \
            s.numel() == grad.shape[2] * grad.shape[3]:
        return 0
    return None


def scale_forward(y: Tensor, s: Tensor, bias: Optional[Tensor], native: bool = True) -> Tensor:
    """``y * s + bias`` (one pass; torch's ``addcmul``, or ``y * s`` without bias).

    Args:
        y: (N, O, H, W); s: (O, H, W), or (H, W) / (1, H, W); bias: (O, ) or None.
        native: allow the C++ pass (CPU contiguous float32 only).
    """
    layout = _native_layout(y, y, s) if native and _native(bias) else None
    lib = native_library() if layout is not None else None
    if lib is None:
        if bias is None:
            return y * s
        return torch.addcmul(bias.view(1, -1, 1, 1), y, s)
    n, o, h, w = y.shape
    out = pooled_empty(y.shape)
    _check(lib.bnn_scale_forward(_ptr(y), _ptr(s), _ptr(bias), _ptr(out), layout, n, o, h * w,
                                 torch.get_num_threads()), 'bnn_scale_forward', tuple(y.shape))
    return out


def scale_backward(grad: Tensor, y: Tensor, s: Tensor, need_y: bool, need_s: bool,
                   native: bool = True) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """Gradients of ``out = y * s`` for a spatial scale ``s``.

    Args:
        grad: gradient of ``out``, (N, O, H, W); not modified.
        y: the unscaled output, (N, O, H, W).
        s: the scale, (O, H, W), or (H, W) / (1, H, W) broadcast over the channels.
        need_y, need_s: which gradients to compute.
        native: allow the C++ pass (CPU, contiguous float32 only; else torch ops).

    Returns:
        ``(grad_y (N, O, H, W) or None, grad_s (O, H, W) or None)``: ``grad_s`` is summed over
        the batch only (the caller reduces it to ``s``'s shape, e.g. ``sum_to_size``).
    """
    layout = _native_layout(grad, y, s) if native and (need_y or need_s) else None
    lib = native_library() if layout is not None else None
    if lib is None:
        grad_y = grad * s if need_y else None
        grad_s = None
        if need_s:
            grad_s = grad[0] * y[0]
            for n in range(1, grad.shape[0]):
                grad_s.addcmul_(grad[n], y[n])
        return grad_y, grad_s
    n, o, h, w = grad.shape
    grad_y = grad_s = None
    if need_y:
        grad_y = pooled_empty(grad.shape)
    if need_s:
        grad_s = pooled_empty((o, h, w))
    _check(lib.bnn_scale_backward(_ptr(grad), _ptr(y), _ptr(s), layout, _ptr(grad_y),
                                  _ptr(grad_s), n, o, h * w, torch.get_num_threads()),
           'bnn_scale_backward', tuple(grad.shape), tuple(s.shape))
    return grad_y, grad_s
