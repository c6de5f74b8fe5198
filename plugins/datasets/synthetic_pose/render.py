"""Draw an articulated figure (tapered limbs, torso polygon, head ellipse) into an image.

Parts are first painted as integer labels into a part map (depth order = painting order), then
coloured through per-material textures, shaded (parts behind the torso darker, dark outlines
at part boundaries) and returned with a soft (anti-aliased) silhouette alpha.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import cv2
import numpy as np

from .skeleton import J
from .style import FigureStyle
from .texture import random_texture, texture

PART_IDS: Dict[str, int] = {
    name: i + 1 for i, name in enumerate((
        'torso', 'neck', 'head', 'hair', 'face', 'right_upper_arm', 'right_forearm',
        'right_hand', 'left_upper_arm', 'left_forearm', 'left_hand', 'right_thigh',
        'right_shin', 'right_foot', 'left_thigh', 'left_shin', 'left_foot'))
}
MATERIALS = ('skin', 'shirt', 'pants', 'shoes', 'hair', 'features')
_SHIFT = 4  # OpenCV fixed-point bits: sub-pixel drawing
_ONE = 1 << _SHIFT


@dataclass
class RenderedFigure:
    """Output of :func:`render_figure`.

    Args:
        rgb: ``(H, W, 3)`` float32 BGR colours of the figure (valid where ``alpha > 0``).
        alpha: ``(H, W)`` float32 soft silhouette in ``[0, 1]``.
        parts: ``(H, W)`` uint8 part labels (:data:`PART_IDS`, 0 = background).
        head_box: ``(4,)`` axis-aligned head box ``x1, y1, x2, y2`` (0-based pixels).
    """
    rgb: np.ndarray
    alpha: np.ndarray
    parts: np.ndarray
    head_box: np.ndarray


def _fix(p: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(p) * _ONE).astype(np.int32)


def _capsule(canvas: np.ndarray, p0: np.ndarray, p1: np.ndarray, w0: float, w1: float,
             label: int) -> None:
    """Paint a tapered capsule from ``p0`` (width ``w0``) to ``p1`` (width ``w1``)."""
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-6)
    poly = np.stack([p0 + n * w0 / 2, p1 + n * w1 / 2, p1 - n * w1 / 2, p0 - n * w0 / 2])
    cv2.fillConvexPoly(canvas, _fix(poly), label, cv2.LINE_8, _SHIFT)
    for p, w in ((p0, w0), (p1, w1)):
        cv2.circle(canvas, tuple(_fix(p)), int(round(w / 2 * _ONE)), label, -1, cv2.LINE_8,
                   _SHIFT)


def _ellipse(canvas: np.ndarray, centre: np.ndarray, axes: Tuple[float, float], angle_deg: float,
             label: int) -> None:
    cv2.ellipse(canvas, tuple(_fix(centre)), tuple(int(round(a * _ONE)) for a in axes),
                angle_deg, 0, 360, label, -1, cv2.LINE_8, _SHIFT)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.hypot(*v)), 1e-6)


def head_geometry(joints: np.ndarray, aspect: float) -> Tuple[np.ndarray, float, float, float]:
    """Head ellipse spanning upper neck to head top.

    Args:
        joints: ``(16, 2)`` image joints.
        aspect: head width / head length.

    Returns:
        centre ``(2,)``, semi-axis along the head ``a``, across ``b``, axis angle in radians.
    """
    neck, top = joints[J['upper_neck']], joints[J['head_top']]
    a = max(float(np.hypot(*(top - neck))) / 2, 0.5)
    return (neck + top) / 2, a, a * aspect, float(np.arctan2(*(top - neck)[::-1]))


def head_box(joints: np.ndarray, aspect: float) -> np.ndarray:
    """Axis-aligned box ``x1, y1, x2, y2`` of the head ellipse (MPII's head rectangle)."""
    c, a, b, phi = head_geometry(joints, aspect)
    ex = np.sqrt((a * np.cos(phi)) ** 2 + (b * np.sin(phi)) ** 2)
    ey = np.sqrt((a * np.sin(phi)) ** 2 + (b * np.cos(phi)) ** 2)
    return np.array([c[0] - ex, c[1] - ey, c[0] + ex, c[1] + ey])


def _paint_limbs(parts: np.ndarray, joints: np.ndarray, side: str, arm: bool, px: float,
                 style: FigureStyle) -> None:
    """Paint one arm (upper arm, forearm, hand) or leg (thigh, shin, foot) of ``side``."""
    w = style.widths
    names = ('upper_arm', 'forearm', 'hand') if arm else ('thigh', 'shin', 'foot')
    chain = ('shoulder', 'elbow', 'wrist') if arm else ('hip', 'knee', 'ankle')
    a, b, c = (joints[J[f'{side}_{n}']] for n in chain)
    wa, wb, wend = (w[n] for n in names)
    _capsule(parts, a, b, wa * px, wb * px * 1.05, PART_IDS[f'{side}_{names[0]}'])
    _capsule(parts, b, c, wb * px, wb * px * 0.8, PART_IDS[f'{side}_{names[1]}'])
    d = _unit(c - b)
    r = wend * px / 2
    end_label = PART_IDS[f'{side}_{names[2]}']
    if arm:
        _ellipse(parts, c + d * r * 0.9, (r * 1.2, r * 0.85),
                 float(np.degrees(np.arctan2(d[1], d[0]))), end_label)
    else:
        _ellipse(parts, c + d * r * 0.5, (r * 0.75, r * 1.25),
                 float(np.degrees(np.arctan2(d[1], d[0]))), end_label)


def _colour_parts(rng: np.random.Generator, parts: np.ndarray, style: FigureStyle,
                  back_leg: str) -> np.ndarray:
    """Colour a part map: a texture per material, shading of the parts behind, dark outlines.

    Args:
        rng: random generator (textures).
        parts: ``(h, w)`` part labels.
        style: the figure's appearance.
        back_leg: the side of the leg drawn first (shaded darker).

    Returns:
        ``(h, w, 3)`` float32 BGR.
    """
    h, w = parts.shape
    col = style.colours
    mats = {
        'skin': texture(rng, (h, w), col['skin'], 'solid'),
        'shirt': texture(rng, (h, w), col['shirt'], style.textures['shirt'],
                         float(rng.uniform(2.5, 8))),
        'pants': texture(rng, (h, w), col['pants'], style.textures['pants'],
                         float(rng.uniform(2.5, 8))),
        'shoes': np.broadcast_to(col['shoes'], (h, w, 3)),
        'hair': random_texture(rng, (h, w), col['hair'], probs=(0.6, 0.2, 0.0, 0.2)),
        'features': np.broadcast_to(col['hair'] * 0.4, (h, w, 3)),
    }
    stack = np.stack([mats[m] for m in MATERIALS]).astype(np.float32)
    m = {name: MATERIALS.index(name) for name in MATERIALS}
    lut = np.zeros(256, np.int64)
    shade = np.ones(256, np.float32)
    sleeve = m['shirt'] if style.long_sleeves else m['skin']
    leg = m['pants'] if style.long_pants else m['skin']
    for name, mat in (('torso', m['shirt']), ('neck', m['skin']), ('head', m['skin']),
                      ('hair', m['hair']), ('face', m['features'])):
        lut[PART_IDS[name]] = mat
    for side in ('right', 'left'):
        for name, mat in (('upper_arm', m['shirt']), ('forearm', sleeve), ('hand', m['skin']),
                          ('thigh', m['pants']), ('shin', leg), ('foot', m['shoes'])):
            lut[PART_IDS[f'{side}_{name}']] = mat
        if not style.arm_in_front[side]:
            for name in ('upper_arm', 'forearm', 'hand'):
                shade[PART_IDS[f'{side}_{name}']] = 0.8
    for name in ('thigh', 'shin', 'foot'):
        shade[PART_IDS[f'{back_leg}_{name}']] = 0.9
    rgb = stack[lut[parts], np.arange(h)[:, None], np.arange(w)[None, :]]
    gain = shade[parts]
    edge = np.zeros((h, w), bool)
    edge[:, 1:] |= parts[:, 1:] != parts[:, :-1]
    edge[1:, :] |= parts[1:, :] != parts[:-1, :]
    gain[edge & (parts > 0)] *= 0.7
    return rgb * gain[..., None]


def render_figure(rng: np.random.Generator, shape: Tuple[int, int], joints: np.ndarray,
                  px_per_unit: float, style: FigureStyle) -> RenderedFigure:
    """Render one figure.

    Args:
        rng: random generator (textures).
        shape: ``(H, W)`` of the canvas.
        joints: ``(16, 2)`` joint positions in 0-based image pixels, MPII order.
        px_per_unit: pixels per unit of standing height (scales the widths).
        style: the figure's appearance.

    Returns:
        The :class:`RenderedFigure`.
    """
    h, w = shape
    parts = np.zeros((h, w), np.uint8)
    sides = ('right', 'left') if style.right_leg_first else ('left', 'right')
    for side in sides:
        _paint_limbs(parts, joints, side, False, px_per_unit, style)
    for side in ('right', 'left'):
        if not style.arm_in_front[side]:
            _paint_limbs(parts, joints, side, True, px_per_unit, style)

    # torso: shoulders and hips pushed outwards, hips slightly down
    rs, ls, rh, lh = (joints[J[n]] for n in ('right_shoulder', 'left_shoulder', 'right_hip',
                                              'left_hip'))
    across_s, across_h = _unit(rs - ls), _unit(rh - lh)
    down = _unit((rh + lh) / 2 - (rs + ls) / 2)
    es, eh = style.widths['shoulder_ext'] * px_per_unit, style.widths['hip_ext'] * px_per_unit
    torso = np.stack([rs + across_s * es, ls - across_s * es,
                      lh - across_h * eh + down * eh * 0.5, rh + across_h * eh + down * eh * 0.5])
    cv2.fillPoly(parts, [_fix(torso)], PART_IDS['torso'], cv2.LINE_8, _SHIFT)
    nw = style.widths['neck'] * px_per_unit
    _capsule(parts, joints[J['thorax']], joints[J['upper_neck']], nw, nw, PART_IDS['neck'])

    # head with hair and (front view) face
    c, a, b, phi = head_geometry(joints, style.head_aspect)
    head = np.zeros_like(parts)
    _ellipse(head, c, (a, b), float(np.degrees(phi)), 1)
    ys, xs = np.nonzero(head)
    axis = np.array([np.cos(phi), np.sin(phi)])
    t = ((xs - c[0]) * axis[0] + (ys - c[1]) * axis[1]) / a
    parts[ys, xs] = np.where(t > style.hair_line, PART_IDS['hair'], PART_IDS['head'])
    if style.view == 'front' and b >= 2.0:
        across = np.array([-axis[1], axis[0]])
        r = max(b * 0.12, 0.6)
        for s in (-1, 1):
            _ellipse(parts, c - axis * a * 0.05 + across * s * b * 0.38, (r, r), 0,
                     PART_IDS['face'])
        _ellipse(parts, c - axis * a * 0.5, (r * 0.6, b * 0.28),
                 float(np.degrees(phi)), PART_IDS['face'])

    for side in ('right', 'left'):
        if style.arm_in_front[side]:
            _paint_limbs(parts, joints, side, True, px_per_unit, style)

    # colour: one texture per material, looked up through the part map (in the figure's box)
    rows, cols = np.nonzero(parts.any(1))[0], np.nonzero(parts.any(0))[0]
    rgb = np.zeros((h, w, 3), np.float32)
    if len(rows):
        y0, y1 = max(rows[0] - 1, 0), min(rows[-1] + 2, h)  # 1 px margin: outline edges
        x0, x1 = max(cols[0] - 1, 0), min(cols[-1] + 2, w)
        rgb[y0:y1, x0:x1] = _colour_parts(rng, parts[y0:y1, x0:x1], style, sides[0])
    mask = (parts > 0).astype(np.float32)
    alpha = cv2.GaussianBlur(mask, (3, 3), 0.5) * mask  # soften the silhouette from inside
    return RenderedFigure(rgb=rgb, alpha=alpha, parts=parts,
                          head_box=head_box(joints, style.head_aspect))
