"""A linear 3-D morphable face model (3DMM): mean shape + identity and expression bases.

"Towards pose-invariant lip-reading" fits a 3DMM to each frame's 2-D landmarks and renders the
face at a new pose. This module holds the model itself and its file formats; fitting lives in
:mod:`.fitting`, the camera in :mod:`.camera`, rendering in :mod:`.renderer`.

Vertices are ``X = mean + shape_basis @ alpha + expr_basis @ beta`` reshaped to ``(N, 3)``.
Model coordinates: x to the subject's left-to-right as seen by the camera (image right), y up,
z towards the camera.

Supported files (:meth:`MorphableModel.load`)
---------------------------------------------
``.npz`` (this project's layout, also what :func:`generate_toy_model` writes) and ``.h5``/``.hdf5``
(needs ``h5py``) with the keys (h5: datasets at the root, or under ``shape/``, ``expression/``
groups as in the Basel Face Model 2017 layout, see below):

==================  =====================  =================================================
key                 shape                  meaning
==================  =====================  =================================================
``mean``            ``(3N,)`` or ``(N,3)``  mean shape
``shape_basis``     ``(3N,Ks)``            identity basis, columns scaled by their std-dev
``expr_basis``      ``(3N,Ke)``            expression basis (optional; ``Ke = 0`` if absent)
``triangles``       ``(T,3)`` int          triangle vertex indices (0-based)
``landmarks``       ``(L,)`` int           vertex index of each 2-D landmark (iBUG-68 order)
``colors``          ``(N,)`` or ``(N,3)``  per-vertex albedo in [0, 1] (optional)
==================  =====================  =================================================

BFM-2017 ``.h5`` files are read from ``shape/model/{mean,pcaBasis,pcaVariance}``,
``expression/model/...`` and ``shape/representer/cells`` (the basis is multiplied by the
square root of the variance); they carry no landmark indices, so pass ``landmarks=`` (a path to a
text/npy file or an index array). Surrey Face Model files are cereal binaries: convert them with
the ``eos`` toolkit to the ``.npz`` layout above. Any other extension or a file missing a
required key raises :class:`MorphableModelFormatError` naming the file and the missing key.
"""
from __future__ import annotations

import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np

__all__ = ['MorphableModel', 'MorphableModelFormatError', 'generate_toy_model']

REQUIRED_KEYS = ('mean', 'shape_basis', 'triangles', 'landmarks')
SUPPORTED_EXTS = ('.npz', '.h5', '.hdf5')


class MorphableModelFormatError(ValueError):
    """A morphable-model file has an unsupported extension or lacks a required array."""


class MorphableModel:
    """Linear 3DMM (mean shape, identity/expression bases, triangles, landmark vertices).

    Args:
        mean: Mean shape, ``(N, 3)`` or ``(3N,)``.
        shape_basis: Identity basis ``(3N, Ks)`` (coefficients ~ N(0, 1)).
        triangles: ``(T, 3)`` vertex indices.
        landmarks: ``(L,)`` vertex index per 2-D landmark.
        expr_basis: Expression basis ``(3N, Ke)`` or None.
        colors: Per-vertex albedo ``(N,)`` or ``(N, C)`` in [0, 1], or None.
        mouth_landmarks: Indices into ``landmarks`` that outline the mouth (default: iBUG-68
            points 48..67 when ``L == 68``, else all).
    """

    def __init__(self,
                 mean: np.ndarray,
                 shape_basis: np.ndarray,
                 triangles: np.ndarray,
                 landmarks: np.ndarray,
                 expr_basis: Optional[np.ndarray] = None,
                 colors: Optional[np.ndarray] = None,
                 mouth_landmarks: Optional[Sequence[int]] = None) -> None:
        mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        if mean.size % 3:
            raise MorphableModelFormatError(f'mean has {mean.size} values, not a multiple of 3')
        n3 = mean.size
        shape_basis = np.asarray(shape_basis, dtype=np.float64).reshape(n3, -1)
        if expr_basis is None:
            expr_basis = np.zeros((n3, 0))
        expr_basis = np.asarray(expr_basis, dtype=np.float64).reshape(n3, -1)
        triangles = np.asarray(triangles).astype(np.int64).reshape(-1, 3)
        landmarks = np.asarray(landmarks).astype(np.int64).reshape(-1)
        n = n3 // 3
        if triangles.size and (triangles.min() < 0 or triangles.max() >= n):
            raise MorphableModelFormatError(
                f'triangle indices must lie in [0, {n}); got [{triangles.min()}, '
                f'{triangles.max()}]')
        if landmarks.size and (landmarks.min() < 0 or landmarks.max() >= n):
            raise MorphableModelFormatError(f'landmark indices must lie in [0, {n})')
        self.mean = mean
        self.shape_basis = shape_basis
        self.expr_basis = expr_basis
        self.triangles = triangles
        self.landmarks = landmarks
        self.colors = None if colors is None else np.asarray(colors, dtype=np.float64)
        if mouth_landmarks is None:
            mouth_landmarks = range(48, 68) if len(landmarks) == 68 else range(len(landmarks))
        self.mouth_landmarks = np.asarray(list(mouth_landmarks), dtype=np.int64)

    # ------------------------------------------------------------------ properties
    @property
    def num_vertices(self) -> int:
        return self.mean.size // 3

    @property
    def num_shape(self) -> int:
        return self.shape_basis.shape[1]

    @property
    def num_expr(self) -> int:
        return self.expr_basis.shape[1]

    # ------------------------------------------------------------------ geometry
    def vertices(self,
                 shape: Optional[np.ndarray] = None,
                 expr: Optional[np.ndarray] = None,
                 index: Optional[np.ndarray] = None) -> np.ndarray:
        """Model-space vertices.

        Args:
            shape: ``(Ks,)`` or batched ``(B, Ks)`` identity coefficients (None = zeros).
            expr: ``(Ke,)`` or ``(B, Ke)`` expression coefficients (None = zeros).
            index: Optional vertex subset ``(M,)``.

        Returns:
            ``(M, 3)`` or ``(B, M, 3)`` vertices.
        """
        idx = np.arange(self.num_vertices) if index is None else np.asarray(index)
        rows = (idx[:, None] * 3 + np.arange(3)[None]).reshape(-1)
        out = self.mean[rows]
        if shape is not None and self.num_shape:
            out = out + np.asarray(shape) @ self.shape_basis[rows].T
        if expr is not None and self.num_expr:
            out = out + np.asarray(expr) @ self.expr_basis[rows].T
        return out.reshape(out.shape[:-1] + (len(idx), 3))

    def landmark_vertices(self, shape=None, expr=None) -> np.ndarray:
        """``(L, 3)`` (or ``(B, L, 3)``) landmark vertices."""
        return self.vertices(shape, expr, index=self.landmarks)

    # ------------------------------------------------------------------ files
    def save(self, path: str) -> None:
        """Write the ``.npz`` layout documented in the module docstring."""
        arrays = dict(mean=self.mean, shape_basis=self.shape_basis, expr_basis=self.expr_basis,
                      triangles=self.triangles, landmarks=self.landmarks,
                      mouth_landmarks=self.mouth_landmarks)
        if self.colors is not None:
            arrays['colors'] = self.colors
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str, landmarks: Union[None, str, Sequence[int]] = None) -> 'MorphableModel':
        """Load a model file (``.npz`` or ``.h5``; see the module docstring).

        Args:
            path: File path.
            landmarks: Landmark vertex indices (array or path to ``.npy``/text file) overriding
                or supplying those of the file (BFM files carry none).

        Raises:
            FileNotFoundError: the file does not exist.
            MorphableModelFormatError: unsupported extension or missing key.
        """
        if not osp.isfile(path):
            raise FileNotFoundError(f'morphable-model file not found: {path}')
        ext = osp.splitext(path)[1].lower()
        if ext not in SUPPORTED_EXTS:
            raise MorphableModelFormatError(
                f'unsupported morphable-model file {path!r} (extension {ext!r}); supported: '
                f'{SUPPORTED_EXTS}. Convert Surrey (.bin) or BFM .mat files to the documented '
                f'.npz layout.')
        if ext == '.npz':
            try:
                with np.load(path, allow_pickle=False) as f:
                    arrays = {k: f[k] for k in f.files}
            except Exception as e:  # noqa: BLE001 - corrupt archive
                raise MorphableModelFormatError(f'cannot read {path!r} as .npz: {e}') from e
        else:
            arrays = _read_h5(path)
        if landmarks is not None:
            if isinstance(landmarks, str):
                landmarks = (np.load(landmarks) if landmarks.endswith('.npy') else
                             np.loadtxt(landmarks, dtype=np.int64))
            arrays['landmarks'] = np.asarray(landmarks)
        missing = [k for k in REQUIRED_KEYS if k not in arrays]
        if missing:
            raise MorphableModelFormatError(
                f'{path!r} is not a morphable-model file: missing {missing}; found keys '
                f'{sorted(arrays)}; required {list(REQUIRED_KEYS)} (+ optional expr_basis, '
                f'colors)')
        return cls(arrays['mean'], arrays['shape_basis'], arrays['triangles'],
                   arrays['landmarks'], expr_basis=arrays.get('expr_basis'),
                   colors=arrays.get('colors'), mouth_landmarks=arrays.get('mouth_landmarks'))


def _read_h5(path: str) -> dict:
    try:
        import h5py
    except ImportError as e:
        raise MorphableModelFormatError(
            f'reading {path!r} needs h5py (`pip install h5py`), or convert it to .npz') from e
    out = {}
    with h5py.File(path, 'r') as f:
        for k in ('mean', 'shape_basis', 'expr_basis', 'triangles', 'landmarks', 'colors'):
            if k in f:
                out[k] = f[k][()]
        if 'shape/model/mean' in f:  # Basel Face Model 2017 layout
            out['mean'] = f['shape/model/mean'][()]
            out['shape_basis'] = (f['shape/model/pcaBasis'][()] *
                                  np.sqrt(f['shape/model/pcaVariance'][()])[None])
            cells = f['shape/representer/cells'][()]
            out['triangles'] = cells.T if cells.shape[0] == 3 else cells
            if 'expression/model/pcaBasis' in f:
                out['expr_basis'] = (f['expression/model/pcaBasis'][()] *
                                     np.sqrt(f['expression/model/pcaVariance'][()])[None])
            if 'color/model/mean' in f:
                out['colors'] = f['color/model/mean'][()].reshape(-1, 3)
    return out


# ---------------------------------------------------------------------- toy model
def _smooth_ramp(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def generate_toy_model(grid: int = 25) -> MorphableModel:
    """A small synthetic face 3DMM of this project's own (for tests and the embedded demo).

    An ellipsoidal face surface on a ``grid x (grid+6)`` vertex grid with a nose bump, dark
    eyes/brows, darker lips and a mouth slit whose interior rows are dark, so that opening the
    jaw shows a dark mouth cavity. Bases:

    * identity (6): lower-face width, chin length, nose depth, eye distance, mouth width,
      chin depth (none is a global scaling, so scale and identity stay separable);
    * expression (4): jaw open, lip stretch, lip pucker (rounding), upper-lip raise.

    68 landmark vertices follow the iBUG-68 order (jaw 0-16, brows 17-26, nose 27-35, eyes
    36-47, outer lips 48-59, inner lips 60-67). Units: face half-width = 1.

    Args:
        grid: Number of vertex columns (rows are ``grid + 6`` plus 4 mouth rows).

    Returns:
        The model, with per-vertex grey ``colors``.
    """
    ml, eps = -0.55, 0.012                   # mouth line and half-thickness of the closed slit
    us = np.linspace(-1.0, 1.0, grid)
    vs = np.linspace(-1.3, 1.2, grid + 6)
    vs = vs[np.abs(vs - ml) > 0.05]
    vs = np.sort(np.concatenate([vs, [ml - 0.04, ml - eps, ml + eps, ml + 0.04]]))
    uu, vv = np.meshgrid(us, vs)             # rows = v (bottom to top), cols = u
    inside = (uu / 1.02)**2 + (vv / 1.32)**2 <= 1.0
    ell = np.clip(1 - uu**2 - (vv / 1.35)**2, 0, None)
    zz = 0.9 * np.sqrt(ell) + 0.35 * np.exp(-(uu**2 / 0.02 + (vv - 0.0)**2 / 0.12))
    zz += 0.05 * np.exp(-(uu**2 / 0.12 + (vv - ml)**2 / 0.02))     # lips protrude a little
    pts = np.stack([uu, vv, zz], -1)
    nrow, ncol = uu.shape
    ids = -np.ones((nrow, ncol), dtype=np.int64)
    ids[inside] = np.arange(inside.sum())
    verts = pts[inside]
    tris = []
    for r in range(nrow - 1):
        for c in range(ncol - 1):
            a, b, cc, d = ids[r, c], ids[r, c + 1], ids[r + 1, c], ids[r + 1, c + 1]
            if min(a, b, d) >= 0:
                tris.append((a, b, d))
            if min(a, d, cc) >= 0:
                tris.append((a, d, cc))
    tris = np.asarray(tris, dtype=np.int64)
    u, v, z = verts[:, 0], verts[:, 1], verts[:, 2]

    # colours: skin, darker lips, dark mouth interior, eyes, brows, nostrils
    col = 0.62 + 0.08 * v / 1.3
    lips = ((u / 0.42)**2 + ((v - ml) / 0.11)**2) < 1
    col = np.where(lips, 0.38, col)
    interior = (np.abs(v - ml) <= eps + 1e-9) & (np.abs(u) < 0.36)
    col = np.where(interior, 0.06, col)
    for sx in (-0.38, 0.38):
        col = np.where(((u - sx) / 0.16)**2 + ((v - 0.35) / 0.07)**2 < 1, 0.12, col)   # eyes
        col = np.where(((u - sx) / 0.2)**2 + ((v - 0.55) / 0.045)**2 < 1, 0.2, col)   # brows
    col = np.where(((np.abs(u) - 0.08) / 0.05)**2 + ((v + 0.2) / 0.04)**2 < 1, 0.25, col)

    n = len(verts)
    zeros = np.zeros(n)
    wmouth = np.clip(1 - (u / 0.45)**2, 0, 1) * np.exp(-((v - ml) / 0.35)**2)

    def field(dx, dy, dz):
        return np.stack([dx, dy, dz], -1).reshape(-1)

    shape_basis = np.stack([
        field(0.08 * u * _smooth_ramp(-v / 0.8), zeros, zeros),          # lower-face width
        field(zeros, 0.12 * np.minimum(v + 0.2, 0), zeros),              # chin length
        field(zeros, zeros, 0.08 * np.exp(-(u**2 / 0.02 + v**2 / 0.12)) * 1.5),  # nose depth
        field(0.06 * u * np.exp(-((v - 0.35) / 0.3)**2), zeros, zeros),  # eye distance
        field(0.05 * u * wmouth, zeros, zeros),                          # mouth width
        field(zeros, zeros, 0.06 * _smooth_ramp((ml - v) / 0.6)),        # chin depth
    ], 1)
    # expression: jaw open stretches the slit rows apart (lower part moves down)
    below = _smooth_ramp((ml + eps - v) / (2 * eps))
    wopen = np.clip(1 - (u / (0.4 + 1.2 * np.clip(ml - v, 0, None)))**2, 0, 1)
    wopen = np.where(v > ml + eps, 0.0, wopen)
    dist_m = np.exp(-((v - ml) / 0.2)**2) * np.clip(1 - (u / 0.6)**2, 0, 1)
    expr_basis = np.stack([
        field(zeros, -0.12 * below * wopen, zeros),                      # jaw open
        field(0.35 * u * dist_m, zeros, -0.05 * dist_m),               # lip stretch
        field(-0.3 * u * dist_m, zeros, 0.15 * dist_m),                  # pucker
        field(zeros, 0.1 * np.exp(-((v - ml - 0.08) / 0.08)**2) * wmouth *
              (v > ml).astype(float), zeros),                            # upper-lip raise
    ], 1)

    def nearest(targets):
        targets = np.asarray(targets, dtype=np.float64)
        d = ((targets[:, None, :] - verts[None, :, :2])**2).sum(-1)
        return d.argmin(1)

    jaw = [(1.0 * np.sin(t), -1.32 * np.cos(t) * 0.98 + 0.0) for t in np.linspace(-1.3, 1.3, 17)]
    jaw = [(x * 0.97, y * 0.97) for x, y in jaw]
    brows = [(x, 0.58) for x in np.linspace(-0.55, -0.2, 5)] + \
            [(x, 0.58) for x in np.linspace(0.2, 0.55, 5)]
    nose = [(0, 0.25), (0, 0.15), (0, 0.05), (0, -0.05)] + [(x, -0.2) for x in
                                                            np.linspace(-0.16, 0.16, 5)]
    eyes = []
    for sx in (-0.38, 0.38):
        eyes += [(sx - 0.15, 0.35), (sx - 0.06, 0.4), (sx + 0.06, 0.4), (sx + 0.15, 0.35),
                 (sx + 0.06, 0.3), (sx - 0.06, 0.3)]
    outer = [(-0.4, ml), (-0.27, ml + 0.07), (-0.1, ml + 0.1), (0, ml + 0.09), (0.1, ml + 0.1),
             (0.27, ml + 0.07), (0.4, ml), (0.27, ml - 0.08), (0.1, ml - 0.11), (0, ml - 0.11),
             (-0.1, ml - 0.11), (-0.27, ml - 0.08)]
    inner = [(-0.33, ml), (-0.15, ml + eps), (0, ml + eps), (0.15, ml + eps), (0.33, ml),
             (0.15, ml - eps), (0, ml - eps), (-0.15, ml - eps)]
    lmk = nearest(jaw + brows + nose + eyes + outer + inner)
    return MorphableModel(verts.reshape(-1), shape_basis, tris, lmk, expr_basis=expr_basis,
                          colors=col)
