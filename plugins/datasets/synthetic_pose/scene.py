"""One synthetic sample: pose + appearance + placement (scale, rotation, truncation) +
background + occluders, with its MPII-style annotation in 0-based pixels."""
from dataclasses import dataclass, fields
from typing import Tuple

import cv2
import numpy as np

from .occluders import draw_occluders, occluded_joints
from .render import render_figure
from .skeleton import J, Pose, sample_pose
from .style import sample_style
from .texture import background

# Margin around the joints (units of standing height) that the figure's box includes.
BOX_MARGIN = 0.06


@dataclass
class SceneOptions:
    """Options of the scene sampler (all reachable as ``**opts`` of the generator).

    Args:
        person_size: range of the figure box's longest side, as a fraction of the canvas.
        max_rotation: in-plane rotation in degrees, normal with std ``max_rotation / 2``,
            clipped to ``+-max_rotation``.
        centre_jitter: shift of the figure from the canvas centre, fraction of the canvas.
        p_truncation: probability that the figure is shifted partly out of the image.
        truncation: range of that shift, as a fraction of the figure box.
        p_occlusion: probability of occluders over the figure.
        max_occluders: maximum number of occluders.
        p_back_view: probability of a figure seen from behind.
        foreshortening: smallest limb length factor (out-of-plane rotation), in (0, 1].
        clutter: maximum number of random background shapes.
        p_blur: probability of a slight Gaussian blur of the whole image.
        noise: maximum standard deviation of additive pixel noise (0..255 scale).
    """
    person_size: Tuple[float, float] = (0.55, 0.85)
    max_rotation: float = 40.0
    centre_jitter: float = 0.06
    p_truncation: float = 0.2
    truncation: Tuple[float, float] = (0.2, 0.5)
    p_occlusion: float = 0.35
    max_occluders: int = 2
    p_back_view: float = 0.35
    foreshortening: float = 0.5
    clutter: int = 8
    p_blur: float = 0.2
    noise: float = 4.0

    @classmethod
    def from_dict(cls, opts: dict) -> 'SceneOptions':
        """Build from keyword options; unknown keys raise a ``KeyError`` naming the allowed."""
        allowed = [f.name for f in fields(cls)]
        bad = sorted(set(opts) - set(allowed))
        if bad:
            raise KeyError(f'unknown option(s) {bad}; allowed: {allowed}')
        out = cls(**opts)
        for name in ('p_truncation', 'p_occlusion', 'p_back_view', 'p_blur'):
            if not 0.0 <= getattr(out, name) <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {getattr(out, name)}')
        lo, hi = out.person_size
        if not 0.0 < lo <= hi:
            raise ValueError(f'person_size must be 0 < low <= high, got {out.person_size}')
        return out


@dataclass
class Sample:
    """A rendered sample and its ground truth (0-based pixel coordinates).

    Args:
        image: ``(H, W, 3)`` uint8 BGR.
        joints: ``(16, 2)`` joint positions, MPII order (also for joints outside the image).
        visible: ``(16,)`` 1 where the joint lies inside the image, else 0.
        occluded: ``(16,)`` bool, the joint's pixel is covered by an occluder.
        centre: ``(2,)`` centre of the figure box.
        box_size: longest side of the figure box in pixels (MPII ``scale`` * 200).
        head_box: ``(4,)`` head rectangle ``x1, y1, x2, y2``.
        parts: ``(H, W)`` part labels of the figure before occlusion (0 = background).
        occluder_mask: ``(H, W)`` bool.
        px_per_unit: pixels per unit of standing height.
        view: ``front`` or ``back``.
        pose: the canonical :class:`~.skeleton.Pose`.
    """
    image: np.ndarray
    joints: np.ndarray
    visible: np.ndarray
    occluded: np.ndarray
    centre: np.ndarray
    box_size: float
    head_box: np.ndarray
    parts: np.ndarray
    occluder_mask: np.ndarray
    px_per_unit: float
    view: str
    pose: Pose


def _rotation(deg: float) -> np.ndarray:
    t = np.radians(deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def render_sample(rng: np.random.Generator, img_size: int, opts: SceneOptions) -> Sample:
    """Sample and render one image.

    Args:
        rng: random generator (the only source of randomness).
        img_size: side of the square canvas in pixels.
        opts: the :class:`SceneOptions`.

    Returns:
        The :class:`Sample`.
    """
    pose = sample_pose(rng, foreshortening=opts.foreshortening)
    style = sample_style(rng, p_back_view=opts.p_back_view)

    # canonical (y up, facing us) -> image axes (y down); a back view mirrors left/right
    pts = pose.joints * np.array([-1.0 if style.view == 'back' else 1.0, -1.0])
    angle = float(np.clip(rng.normal(0, opts.max_rotation / 2), -opts.max_rotation,
                          opts.max_rotation))
    pts = pts @ _rotation(angle).T
    lo, hi = pts.min(0) - BOX_MARGIN, pts.max(0) + BOX_MARGIN
    extent = float(np.max(hi - lo))
    px = rng.uniform(*opts.person_size) * img_size / extent
    box_size = extent * px
    target = img_size / 2 - 0.5 + rng.uniform(-1, 1, 2) * opts.centre_jitter * img_size
    if rng.random() < opts.p_truncation:
        direction = rng.normal(size=2)
        shift = direction / np.linalg.norm(direction) * rng.uniform(*opts.truncation) * box_size
        for _ in range(4):  # keep the thorax inside the image
            thorax = (pts[J['thorax']] - (lo + hi) / 2) * px + target + shift
            if np.all((thorax >= 2) & (thorax <= img_size - 3)):
                break
            shift = shift / 2
        target = target + shift
    joints = (pts - (lo + hi) / 2) * px + target
    centre = target.copy()

    shape = (img_size, img_size)
    bg = background(rng, shape, opts.clutter).astype(np.float32)
    fig = render_figure(rng, shape, joints, px, style)
    alpha = fig.alpha[..., None]
    img = bg + (fig.rgb - bg) * alpha
    img = np.clip(img, 0, 255).astype(np.uint8)
    occ_mask = np.zeros(shape, bool)
    if rng.random() < opts.p_occlusion:
        occ_mask = draw_occluders(rng, img, joints, box_size, opts.max_occluders)
    if rng.random() < opts.p_blur:
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 0.9))
    if opts.noise > 0:
        sigma = rng.uniform(0, opts.noise)
        noise = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(sigma)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)

    inside = np.all((joints >= 0) & (joints <= img_size - 1), axis=1)
    return Sample(image=img, joints=joints, visible=inside.astype(np.int64),
                  occluded=occluded_joints(occ_mask, joints), centre=centre,
                  box_size=box_size, head_box=fig.head_box, parts=fig.parts,
                  occluder_mask=occ_mask, px_per_unit=px, view=style.view, pose=pose)

