"""Rasteriser vs. the camera model, z-buffer, and zero-rotation identity of pose augmentation."""
import numpy as np

from plugins.lipreading.camera import Pose, project
from plugins.lipreading.morphable_model import generate_toy_model
from plugins.lipreading.pose_augment import PoseAugmenter
from plugins.lipreading.renderer import rasterize, render_colors
from plugins.lipreading.synthetic import render_clip, word_expressions

MODEL = generate_toy_model()


def _independent_projection(x, yaw, pitch, roll, s, t):
    """Rz(roll) Rx(pitch) Ry(yaw), written out separately from plugins.lipreading.camera."""
    a, b, c = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    xr = x @ (rz @ rx @ ry).T
    return np.stack([s * xr[:, 0] + t[0], t[1] - s * xr[:, 1]], 1)


def test_rendered_positions_match_camera_model():
    v = MODEL.vertices()
    pose = Pose(20, -10, 5, scale=20, t=np.array([32.0, 34.0]))
    uv, depth = project(v, pose)
    assert np.allclose(uv, _independent_projection(v, 20, -10, 5, 20, (32, 34)))
    # render each vertex's own model coordinates, re-project the interpolated point: every
    # covered pixel centre must map back onto itself (linear camera => exact)
    img, mask = render_colors(uv, depth, MODEL.triangles, v, 64, 64)
    ys, xs = np.nonzero(mask)
    assert mask.sum() > 300
    back = _independent_projection(img[ys, xs], 20, -10, 5, 20, (32, 34))
    assert np.allclose(back, np.stack([xs, ys], 1), atol=1e-6)
    # the silhouette lies inside the projected vertices' bounding box
    assert xs.min() >= uv[:, 0].min() - 1 and xs.max() <= uv[:, 0].max() + 1


def test_triangle_coverage_and_zbuffer():
    uv = np.array([[2.0, 2.0], [12.0, 2.0], [2.0, 12.0], [4.0, 4.0], [14.0, 4.0], [4.0, 14.0]])
    depth = np.array([0.0, 0, 0, 1, 1, 1])             # second triangle nearer
    tris = np.array([[0, 1, 2], [3, 4, 5]])
    tri_id, bary = rasterize(uv, depth, tris, 16, 16)
    yy, xx = np.mgrid[:16, :16]
    in0 = (xx >= 2) & (yy >= 2) & (xx + yy <= 14)
    in1 = (xx >= 4) & (yy >= 4) & (xx + yy <= 18)
    assert np.array_equal(tri_id >= 0, in0 | in1)
    assert np.all(tri_id[in1] == 1) and np.all(tri_id[in0 & ~in1] == 0)
    assert np.allclose(bary[tri_id >= 0].sum(-1), 1)


def test_rotation_by_zero_leaves_image_unchanged():
    rng = np.random.default_rng(0)
    expr = word_expressions('ABOUT', 5, rng)
    frames, lmk = render_clip(MODEL, expr, rng.normal(0, 0.5, 6), 20.0, 0.0, rng)
    aug = PoseAugmenter(MODEL)
    same, lmk2 = aug(frames, lmk, yaw=0.0, pitch=0.0, relative=True)
    assert np.abs(same.astype(int) - frames.astype(int)).max() <= 1
    assert np.abs(lmk2 - lmk).max() < 1.5                  # refit of noisy landmarks
    rotated, lmk3 = aug(frames, lmk, yaw=-40.0)
    assert np.abs(rotated.astype(int) - frames.astype(int)).mean() > 2
    assert lmk3.shape == lmk.shape


def test_unknown_fill_mode():
    import pytest
    with pytest.raises(ValueError, match='fill_uncovered must be one of'):
        PoseAugmenter(MODEL, fill_uncovered='blur')
