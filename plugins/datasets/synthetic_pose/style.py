"""Appearance of a synthetic figure: build (limb widths), clothing, colours, view, depth order."""
from dataclasses import dataclass, field
from typing import Dict, Tuple

import numpy as np

from .texture import TEXTURE_KINDS, random_colour, skin_colour

# Mean full widths (diameters) of the body parts in units of standing height.
WIDTHS: Dict[str, float] = {
    'upper_arm': 0.06, 'forearm': 0.05, 'hand': 0.055, 'thigh': 0.095, 'shin': 0.07,
    'foot': 0.065, 'neck': 0.05, 'shoulder_ext': 0.035, 'hip_ext': 0.04,
}
VIEWS = ('front', 'back')


@dataclass
class FigureStyle:
    """How one figure looks.

    Args:
        view: ``front`` (faces the camera: the figure's right is on the image's left when
            upright; face drawn) or ``back`` (seen from behind: right on the right; hair only).
        widths: full part widths in units of standing height (keys of :data:`WIDTHS`).
        head_aspect: head width / head length.
        colours: BGR colours keyed ``skin``, ``shirt``, ``pants``, ``shoes``, ``hair``.
        textures: texture kinds (:data:`~.texture.TEXTURE_KINDS`) keyed ``shirt``, ``pants``.
        long_sleeves: forearms are clothed (else skin).
        long_pants: shins are clothed (else skin).
        arm_in_front: per side, the arm is drawn over the torso (else behind it).
        right_leg_first: the right leg is drawn first (behind the left leg).
        hair_line: hair covers the head above this fraction of the head's half-length from its
            centre (-1 = whole head, 1 = none).
    """
    view: str = 'front'
    widths: Dict[str, float] = field(default_factory=lambda: dict(WIDTHS))
    head_aspect: float = 0.78
    colours: Dict[str, np.ndarray] = field(default_factory=dict)
    textures: Dict[str, str] = field(default_factory=dict)
    long_sleeves: bool = True
    long_pants: bool = True
    arm_in_front: Dict[str, bool] = field(default_factory=lambda: {'right': True, 'left': True})
    right_leg_first: bool = True
    hair_line: float = 0.3


def sample_style(rng: np.random.Generator, p_back_view: float = 0.35,
                 build: Tuple[float, float] = (0.75, 1.35)) -> FigureStyle:
    """Sample a random :class:`FigureStyle`.

    Args:
        rng: random generator.
        p_back_view: probability of a figure seen from behind.
        build: range of the width factor applied to all limb widths.
    """
    if not 0.0 <= p_back_view <= 1.0:
        raise ValueError(f'p_back_view must be in [0, 1], got {p_back_view}')
    view = 'back' if rng.random() < p_back_view else 'front'
    k = rng.uniform(*build)
    widths = {name: w * k * rng.uniform(0.9, 1.1) for name, w in WIDTHS.items()}
    colours = {
        'skin': skin_colour(rng),
        'shirt': random_colour(rng),
        'pants': random_colour(rng, value=(0.1, 0.8)),
        'shoes': random_colour(rng, saturation=(0.0, 0.6), value=(0.05, 0.6)),
        'hair': random_colour(rng, saturation=(0.1, 0.7), value=(0.05, 0.5)),
    }
    kinds = TEXTURE_KINDS
    textures = {part: kinds[rng.choice(len(kinds), p=[0.45, 0.25, 0.1, 0.2])]
                for part in ('shirt', 'pants')}
    return FigureStyle(
        view=view, widths=widths, head_aspect=float(rng.uniform(0.7, 0.85)), colours=colours,
        textures=textures, long_sleeves=bool(rng.random() < 0.5),
        long_pants=bool(rng.random() < 0.65),
        arm_in_front={s: bool(rng.random() < 0.7) for s in ('right', 'left')},
        right_leg_first=bool(rng.random() < 0.5),
        hair_line=float(rng.uniform(0.1, 0.5) if view == 'front' else rng.uniform(-0.9, -0.6)))
