"""CPU triangle rasteriser with a z-buffer (numpy-vectorised), vertex-colour and textured.

:func:`rasterize` expands every triangle's bounding box into candidate pixels in one flat
array (no Python loop over triangles), keeps those whose barycentric coordinates are all
non-negative, and resolves visibility with a z-buffer implemented as a lexicographic sort by
(pixel, -depth). Pixel centres lie at integer coordinates (the convention of :mod:`.camera` and
:func:`cv2.remap`). Attributes are interpolated with screen-space (affine) barycentrics.

:func:`render_textured` interpolates per-vertex *texture coordinates* that are pixel positions
in a source frame and samples the frame bilinearly; this is how a fitted face is re-rendered at
a new pose with "texture sampled from the frame". When the new pose equals the fitted one, every
covered pixel samples its own position, so the image is unchanged.
"""
from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

__all__ = ['rasterize', 'render_colors', 'render_textured', 'vertex_normals']


def rasterize(uv: np.ndarray, depth: np.ndarray, triangles: np.ndarray, height: int,
              width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Rasterise triangles with a z-buffer.

    Args:
        uv: ``(N, 2)`` vertex pixel coordinates (x right, y down).
        depth: ``(N,)`` vertex depth, larger = nearer the camera.
        triangles: ``(T, 3)`` vertex indices.
        height, width: Output size.

    Returns:
        ``(tri_id, bary)``: ``(H, W)`` int index of the visible triangle (-1 = background) and
        ``(H, W, 3)`` barycentric coordinates of the pixel centre in it.
    """
    tri_id = -np.ones((height, width), dtype=np.int64)
    bary = np.zeros((height, width, 3))
    if len(triangles) == 0:
        return tri_id, bary
    p = uv[triangles]                                           # (T, 3, 2)
    x0 = np.clip(np.ceil(p[..., 0].min(1)), 0, width).astype(np.int64)
    x1 = np.clip(np.floor(p[..., 0].max(1)), -1, width - 1).astype(np.int64)
    y0 = np.clip(np.ceil(p[..., 1].min(1)), 0, height).astype(np.int64)
    y1 = np.clip(np.floor(p[..., 1].max(1)), -1, height - 1).astype(np.int64)
    a, b, c = p[:, 0], p[:, 1], p[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    bw, bh = x1 - x0 + 1, y1 - y0 + 1
    ok = (bw > 0) & (bh > 0) & (np.abs(area) > 1e-12)
    tid = np.flatnonzero(ok)
    if len(tid) == 0:
        return tri_id, bary
    counts = bw[tid] * bh[tid]
    t = np.repeat(tid, counts)
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    px = x0[t] + local % bw[t]
    py = y0[t] + local // bw[t]
    ax, ay, bx, by, cx, cy = a[t, 0], a[t, 1], b[t, 0], b[t, 1], c[t, 0], c[t, 1]
    inv = 1.0 / area[t]
    w0 = ((bx - px) * (cy - py) - (by - py) * (cx - px)) * inv
    w1 = ((cx - px) * (ay - py) - (cy - py) * (ax - px)) * inv
    w2 = 1.0 - w0 - w1
    eps = -1e-9
    inside = (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
    t, px, py = t[inside], px[inside], py[inside]
    w = np.stack([w0[inside], w1[inside], w2[inside]], -1)
    z = (w * depth[triangles[t]]).sum(-1)
    pid = py * width + px
    order = np.lexsort((-z, pid))                   # per pixel, nearest first
    pid_sorted = pid[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = pid_sorted[1:] != pid_sorted[:-1]
    sel = order[first]
    tri_id.reshape(-1)[pid[sel]] = t[sel]
    bary.reshape(-1, 3)[pid[sel]] = w[sel]
    return tri_id, bary


def _interpolate(attr: np.ndarray, triangles: np.ndarray, tri_id: np.ndarray,
                 bary: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    mask = tri_id >= 0
    out = np.zeros(tri_id.shape + attr.shape[1:])
    ids = triangles[tri_id[mask]]                              # (P, 3)
    out[mask] = np.einsum('pk,pk...->p...', bary[mask], attr[ids])
    return out, mask


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals ``(N, 3)`` (orientation as given by the triangles)."""
    v = vertices[triangles]
    fn = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, triangles[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def render_colors(uv: np.ndarray, depth: np.ndarray, triangles: np.ndarray, colors: np.ndarray,
                  height: int, width: int,
                  background: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Render per-vertex colours.

    Args:
        uv, depth, triangles: See :func:`rasterize`.
        colors: ``(N,)`` or ``(N, C)`` per-vertex values.
        height, width: Output size.
        background: ``(H, W)`` / ``(H, W, C)`` image behind the mesh (default zeros).

    Returns:
        ``(image, mask)``: float image shaped like ``background`` and the ``(H, W)`` coverage.
    """
    tri_id, bary = rasterize(uv, depth, triangles, height, width)
    val, mask = _interpolate(np.asarray(colors, dtype=np.float64), triangles, tri_id, bary)
    img = (np.zeros(val.shape) if background is None else
           np.array(background, dtype=np.float64, copy=True))
    img[mask] = val[mask]
    return img, mask


def render_textured(uv: np.ndarray, depth: np.ndarray, triangles: np.ndarray,
                    tex_uv: np.ndarray, texture: np.ndarray,
                    background: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Render a mesh whose texture is an image, sampled at per-vertex pixel coordinates.

    Args:
        uv, depth, triangles: Target-view projection (see :func:`rasterize`).
        tex_uv: ``(N, 2)`` pixel coordinates of each vertex in ``texture``.
        texture: ``(H, W)`` or ``(H, W, C)`` image (the output has its size and dtype).
        background: Image behind the mesh (default: ``texture``).

    Returns:
        ``(image, mask)``.
    """
    h, w = texture.shape[:2]
    tri_id, bary = rasterize(uv, depth, triangles, h, w)
    coords, mask = _interpolate(np.asarray(tex_uv, dtype=np.float64), triangles, tri_id, bary)
    sampled = cv2.remap(texture, coords[..., 0].astype(np.float32),
                        coords[..., 1].astype(np.float32), interpolation=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
    out = np.array(texture if background is None else background, copy=True)
    out[mask] = sampled[mask]
    return out, mask
