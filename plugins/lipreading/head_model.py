"""A second, independently built morphable head model, used only to render *test* clips.

The embedded lip-reading set trains on clips rendered with the toy face model of
:func:`.morphable_model.generate_toy_model`, and the pose augmentation fits and rotates that
same toy model. A test set rendered with the toy model again would partly measure how well the
augmentation reproduces its own renderer. :func:`generate_independent_head_model` builds a
model that shares none of the toy model's construction:

=====================  ========================================  ==========================
                       toy model (training, augmentation)        this model (test clips)
=====================  ========================================  ==========================
mesh family            planar height field ``z(x, y)`` on a      latitude-longitude head
                       regular grid, face mask only              surface (azimuth +-105 deg),
                                                                 head sides, forehead, hair
identity basis         6 hand-written displacement fields        PCA of a random population
                                                                 of smooth radial bumps
                                                                 (seeded), 8 components
jaw opening            vertical translation of the lower lip     rotation of the lower face
                                                                 about a jaw hinge axis
                                                                 (linearised)
stretch / pucker /     radial-in-x fields around the mouth line  fields along the azimuth /
lip raise                                                        radial direction, own widths
albedo                 flat grey levels                          smooth random skin blotches,
                                                                 hair, stubble shadow, own lip
                                                                 and eye shapes
=====================  ========================================  ==========================

It keeps only the *meaning* of the four expression channels (jaw open, lip stretch, pucker,
upper-lip raise, the words' vocabulary) and the iBUG-68 landmark order. The rendering settings
used with it (:func:`render_clip_independent`: perspective camera, two lights with a specular
term, gamma, 2x supersampling, optical blur) differ from the training renderer too.
"""
from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

from .camera import Pose, project
from .morphable_model import MorphableModel
from .renderer import render_colors, vertex_normals

__all__ = ['generate_independent_head_model', 'render_clip_independent', 'mouth_measures',
           'match_expression_amplitudes', 'EXPRESSION_MEASURES']


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _bump(a, e, a0, e0, sa, se):
    return np.exp(-0.5 * (((a - a0) / sa)**2 + ((e - e0) / se)**2))


def generate_independent_head_model(seed: int = 1, n_azimuth: int = 41,
                                    n_elevation: int = 34,
                                    num_shape: int = 8) -> MorphableModel:
    """Build the independent head model (see the module docstring).

    Args:
        seed: Seed of the random identity population and of the skin texture.
        n_azimuth: Vertex columns over azimuth -105..105 degrees.
        n_elevation: Vertex rows over elevation -62..72 degrees (plus 4 mouth rows).
        num_shape: Identity components kept from the PCA.

    Returns:
        A :class:`MorphableModel` with 4 expression components (jaw open, lip stretch,
        pucker, upper-lip raise), 68 landmark vertices in iBUG-68 order and grey ``colors``.
    """
    rng = np.random.default_rng(seed)
    A, B, C = 1.08, 1.42, 1.02                       # ellipsoid half-axes (x, y, z)
    e_m = np.arcsin(-0.62 / B)                       # mouth line elevation
    eps = np.deg2rad(0.6)
    az = np.deg2rad(np.linspace(-105, 105, n_azimuth))
    el = np.deg2rad(np.linspace(-62, 72, n_elevation))
    el = el[np.abs(el - e_m) > np.deg2rad(2.5)]
    el = np.sort(np.concatenate([el, e_m + np.deg2rad([-1.8, 1.8]), e_m + np.array([-eps, eps])]))
    aa, ee = np.meshgrid(az, el)                     # rows: elevation (bottom to top)
    a, e = aa.reshape(-1), ee.reshape(-1)
    base = np.stack([A * np.sin(a) * np.cos(e), B * np.sin(e), C * np.cos(a) * np.cos(e)], -1)
    normal = base / np.array([A, B, C])**2
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)

    # facial relief as radial offsets along the normal
    ae = np.deg2rad
    relief = (0.34 * _bump(a, e, 0, ae(-2), ae(5), ae(11)) *
              _smoothstep((e - ae(-14)) / ae(10))                      # nose
              + 0.07 * _bump(a, e, 0, e_m, ae(22), ae(4))             # lips
              + 0.09 * _bump(a, e, 0, ae(-42), ae(14), ae(8))         # chin
              + 0.06 * _bump(np.abs(a), e, ae(20), ae(22), ae(16), ae(4))  # brow ridge
              - 0.07 * _bump(np.abs(a), e, ae(19), ae(15), ae(8), ae(4))   # eye sockets
              + 0.04 * _bump(np.abs(a), e, ae(30), ae(-8), ae(12), ae(10)))  # cheek bones
    verts = base + relief[:, None] * normal

    # identity: PCA of a random population of smooth radial deformations
    pop = []
    for _ in range(200):
        d = np.zeros(len(a))
        for _ in range(6):
            a0, e0 = rng.uniform(ae(-60), ae(60)), rng.uniform(ae(-55), ae(50))
            s = rng.uniform(ae(12), ae(35))
            d += rng.normal(0, 0.05) * _bump(a, e, a0, e0, s, s)
            d += rng.normal(0, 0.05) * _bump(a, e, -a0, e0, s, s)   # roughly symmetric faces
        width = rng.normal(0, 0.04) * np.sin(a) * np.cos(e)        # head width
        disp = d[:, None] * normal
        disp[:, 0] += width
        pop.append(disp.reshape(-1))
    pop = np.asarray(pop)
    pop -= pop.mean(0)
    _, sv, vt = np.linalg.svd(pop, full_matrices=False)
    shape_basis = (vt[:num_shape] * (sv[:num_shape] / np.sqrt(len(pop)))[:, None]).T

    # expression fields
    lower = _smoothstep((e_m + eps - e) / (2 * eps))                 # 1 below the mouth slit
    mouth_half = ae(24)
    taper = np.clip(1 - (a / (mouth_half + 1.4 * np.clip(e_m - e, 0, None)))**2, 0, 1)
    face = _smoothstep((ae(70) - np.abs(a)) / ae(20))
    pivot = np.array([0.0, -0.05, -0.55])                            # jaw hinge axis along x
    rel = verts - pivot
    omega = np.array([1.0, 0.0, 0.0])                                # opens the chin downwards
    jaw = 0.16 * np.cross(omega, rel) * (lower * taper * face)[:, None]
    around = _bump(a, e, 0, e_m, ae(30), ae(9))
    stretch = np.zeros_like(verts)
    stretch[:, 0] = 0.28 * np.sin(a) / np.sin(mouth_half) * around
    stretch[:, 2] = -0.04 * around
    pucker = np.zeros_like(verts)
    pucker[:, 0] = -0.22 * np.sin(a) / np.sin(mouth_half) * around
    pucker += (0.14 * around)[:, None] * normal
    raise_ = np.zeros_like(verts)
    raise_[:, 1] = 0.09 * _bump(a, e, 0, e_m + ae(4), ae(20), ae(3.5)) * (e > e_m)
    expr_basis = np.stack([f.reshape(-1) for f in (jaw, stretch, pucker, raise_)], 1)

    # triangles of the lat-long grid
    nrow, ncol = aa.shape
    ids = np.arange(nrow * ncol).reshape(nrow, ncol)
    tris = []
    for r in range(nrow - 1):
        for c in range(ncol - 1):
            p, q, s, t = ids[r, c], ids[r, c + 1], ids[r + 1, c], ids[r + 1, c + 1]
            tris += [(p, q, t), (p, t, s)]
    tris = np.asarray(tris, dtype=np.int64)

    # albedo: skin with smooth random blotches, hair, stubble shadow, lips, eyes, brows
    col = 0.55 + 0.05 * np.sin(e)
    for _ in range(12):
        col += rng.normal(0, 0.03) * _bump(a, e, rng.uniform(-1.5, 1.5), rng.uniform(-1, 1.2),
                                           0.25, 0.25)
    hair = _smoothstep((e - ae(40) - ae(10) * np.cos(a)) / ae(8)) + \
        _smoothstep((np.abs(a) - ae(85)) / ae(8)) * _smoothstep((e - ae(-5)) / ae(10))
    col = col * (1 - np.clip(hair, 0, 1)) + 0.18 * np.clip(hair, 0, 1)
    col -= 0.07 * _bump(a, e, 0, ae(-38), ae(28), ae(10))              # stubble shadow
    lips = _bump(a, e, 0, e_m, ae(19), ae(3.2)) > 0.45
    col = np.where(lips, 0.28, col)
    interior = (np.abs(e - e_m) <= eps + 1e-9) & (np.abs(a) < ae(17))
    col = np.where(interior, 0.04, col)
    for s in (-1, 1):
        col = np.where(_bump(a, e, s * ae(19), ae(14), ae(6), ae(2.2)) > 0.5, 0.1, col)   # eyes
        col = np.where(_bump(a, e, s * ae(20), ae(23), ae(9), ae(1.6)) > 0.5, 0.15, col)  # brows
    col = np.where(_bump(np.abs(a), e, ae(4), ae(-11), ae(2.5), ae(1.5)) > 0.5, 0.22, col)
    col = np.clip(col, 0.02, 0.95)

    # 68 landmarks (iBUG order) as nearest vertices to (azimuth, elevation) targets in degrees
    tj = np.linspace(-1, 1, 17) * np.pi / 2
    jaw_pts = list(zip(62 * np.sin(tj), -10 - 38 * np.cos(tj)))
    brows = [(x, 23) for x in (-31, -26, -20, -14, -8)] + [(x, 23) for x in (8, 14, 20, 26, 31)]
    nose = [(0, 10), (0, 5), (0, 0), (0, -5)] + [(x, -11) for x in (-7, -3.5, 0, 3.5, 7)]
    eyes = []
    for sx in (-19, 19):
        eyes += [(sx - 7, 14), (sx - 3, 16), (sx + 3, 16), (sx + 7, 14), (sx + 3, 12), (sx - 3, 12)]
    m = np.rad2deg(e_m)
    outer = [(-22, m), (-14, m + 3), (-6, m + 4), (0, m + 3.5), (6, m + 4), (14, m + 3),
             (22, m), (14, m - 3.5), (6, m - 4.5), (0, m - 4.5), (-6, m - 4.5), (-14, m - 3.5)]
    epsd = np.rad2deg(eps)
    inner = [(-18, m), (-8, m + epsd), (0, m + epsd), (8, m + epsd), (18, m), (8, m - epsd),
             (0, m - epsd), (-8, m - epsd)]
    targets = np.deg2rad(np.asarray(jaw_pts + brows + nose + eyes + outer + inner, float))
    d = (a[None] - targets[:, :1])**2 + (e[None] - targets[:, 1:])**2
    lmk = d.argmin(1)
    return MorphableModel(verts.reshape(-1), shape_basis, tris, lmk, expr_basis=expr_basis,
                          colors=col)


def render_clip_independent(model: MorphableModel, expr: np.ndarray, shape: np.ndarray,
                            yaw: float, pitch: float, rng: np.random.Generator,
                            size: int = 64, supersample: int = 2,
                            ) -> Tuple[np.ndarray, np.ndarray]:
    """Render ``(T, size, size)`` uint8 frames and ``(T, 68, 2)`` landmarks of one clip.

    Settings that the training renderer (:func:`.synthetic.render_clip`) does not use: a
    perspective camera (focal ~2.5 image widths), two directional lights with a Blinn-Phong
    specular term, gamma 2.2, ``supersample``-times supersampling with area downsampling, a
    gaussian optical blur and a vignetted, textured background.
    """
    num = len(expr)
    big = size * supersample
    focal = big * rng.uniform(2.2, 2.8)
    dist = focal / (big * rng.uniform(0.29, 0.34))                    # model units to camera
    centre = np.array([big / 2, big * 0.56]) + rng.uniform(-2, 2, 2) * supersample
    roll = rng.uniform(-6, 6)
    lights = [np.array([rng.uniform(-0.8, 0.8), rng.uniform(0.0, 0.6), 1.0]),
              np.array([rng.uniform(-1, 1), rng.uniform(-0.3, 0.3), 0.6])]
    lights = [v / np.linalg.norm(v) for v in lights]
    weights = (rng.uniform(0.5, 0.8), rng.uniform(0.1, 0.3))
    amb, spec, shin = rng.uniform(0.25, 0.4), rng.uniform(0.05, 0.2), rng.uniform(8, 30)
    yy, xx = np.mgrid[:big, :big] / big
    bg = rng.uniform(0.15, 0.75) + 0.15 * (xx - 0.5) * rng.choice([-1, 1])
    noise_bg = cv2.GaussianBlur(rng.normal(0, 0.08, (big, big)), (0, 0), 3 * supersample)
    bg = np.clip((bg + noise_bg) * (1 - 0.3 * ((xx - 0.5)**2 + (yy - 0.5)**2)), 0, 1)
    phase = rng.uniform(0, 2 * np.pi, 3)
    blur = rng.uniform(0.4, 0.9) * supersample
    frames = np.empty((num, size, size), dtype=np.uint8)
    lmks = np.empty((num, len(model.landmarks), 2), dtype=np.float32)
    view = np.array([0.0, 0.0, 1.0])
    for i in range(num):
        wob = 2.0 * np.sin(2 * np.pi * i / num * 0.8 + phase)
        pose = Pose(yaw=yaw + wob[0], pitch=pitch + 0.7 * wob[1], roll=roll + 0.5 * wob[2],
                    camera='perspective', focal=focal, cx=centre[0], cy=centre[1],
                    t=np.array([0.0, 0.0, -dist]))
        v = model.vertices(shape, expr[i])
        uv, depth = project(v, pose)
        n = vertex_normals(v @ pose.rotation.T, model.triangles)
        shade = np.full(len(v), amb)
        highlight = np.zeros(len(v))
        for w, light in zip(weights, lights):
            shade += w * np.clip(n @ light, 0, 1)
            half = (light + view) / np.linalg.norm(light + view)
            highlight += spec * np.clip(n @ half, 0, 1)**shin
        lin = model.colors**2.2 * shade + highlight                  # linear light
        img, _ = render_colors(uv, depth, model.triangles, np.clip(lin, 0, 1)**(1 / 2.2),
                               big, big, background=bg)
        img = cv2.GaussianBlur(img, (0, 0), blur)
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        img += rng.normal(0, 0.02, img.shape)
        frames[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
        lmks[i] = (uv[model.landmarks] + 0.5) / supersample - 0.5 + \
            rng.normal(0, 0.4, (len(model.landmarks), 2))
    return frames, lmks


#: expression channel -> (landmark measure, sign) used by :func:`match_expression_amplitudes`
EXPRESSION_MEASURES = (('gap', 1.0), ('width', 1.0), ('width', -1.0), ('upper', 1.0))


def mouth_measures(model: MorphableModel, expr: np.ndarray) -> dict:
    """Mouth geometry from the iBUG-68 landmark vertices, in units of the outer-eye-corner
    distance: inner-lip ``gap`` (62 to 66), corner ``width`` (48 to 54), ``upper`` lip height
    (51) and lip protrusion ``forward`` (51, 57)."""
    p = model.landmark_vertices(None, np.asarray(expr, float))
    eyes = np.linalg.norm(model.landmark_vertices()[45] - model.landmark_vertices()[36])
    return dict(gap=(p[62, 1] - p[66, 1]) / eyes, width=(p[54, 0] - p[48, 0]) / eyes,
                upper=p[51, 1] / eyes, forward=p[[51, 57], 2].mean() / eyes)


def match_expression_amplitudes(model: MorphableModel,
                                reference: MorphableModel) -> MorphableModel:
    """Scale each expression component of ``model`` so that a unit coefficient moves the mouth
    as much as in ``reference`` (same landmark measure, relative to the eye distance).

    The words of the embedded set are patterns of coefficients; with this scaling the same
    word is spoken with the same lip motion (relative to the face size) on both models, while
    the shapes of the motions stay each model's own.
    """
    zero = np.zeros(reference.num_expr)
    scales = []
    for k, (key, _) in enumerate(EXPRESSION_MEASURES):
        e = np.zeros(reference.num_expr)
        e[k] = 1.0
        want = mouth_measures(reference, e)[key] - mouth_measures(reference, zero)[key]
        have = mouth_measures(model, e)[key] - mouth_measures(model, zero)[key]
        if want * have <= 0:
            raise ValueError(f'expression {k} moves {key} the other way in the two models')
        scales.append(want / have)
    return MorphableModel(model.mean, model.shape_basis, model.triangles, model.landmarks,
                          expr_basis=model.expr_basis * np.asarray(scales)[None],
                          colors=model.colors, mouth_landmarks=model.mouth_landmarks)
