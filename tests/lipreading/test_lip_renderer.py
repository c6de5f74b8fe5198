"""Rasteriser vs. the camera model, z-buffer, zero-rotation identity of pose augmentation, and
the rotated geometry (landmarks and pixels) against a rotation written out by hand."""
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


def _x_texture(v):
    """Per-vertex grey level from the model x coordinate: a texture whose value says which
    surface point a pixel shows."""
    return 0.2 + 0.6 * (v[:, 0] - v[:, 0].min()) / np.ptp(v[:, 0])


def test_rotated_landmarks_and_pixels_match_the_rotation_by_hand():
    """A clip rendered at yaw 20 (exact landmarks, x-coordinate texture) rotated to yaw -40:
    its landmarks are the model's landmarks projected at yaw -40 by the hand-written camera,
    and its pixels show the surface points a direct yaw -40 render shows."""
    rng = np.random.default_rng(0)
    expr, ident = word_expressions('ABOUT', 4, rng), rng.normal(0, 0.5, 6)
    pitch, roll, s, t = -5.0, 3.0, 20.0, (32.0, 34.0)
    frames, lmk = [], []
    for e in expr:
        v = MODEL.vertices(ident, e)
        uv, depth = project(v, Pose(20.0, pitch, roll, scale=s, t=np.array(t)))
        img, _ = render_colors(uv, depth, MODEL.triangles, _x_texture(v), 64, 64,
                               background=np.full((64, 64), 0.1))
        frames.append(np.round(img * 255).astype(np.uint8))
        lmk.append(_independent_projection(v[MODEL.landmarks], 20.0, pitch, roll, s, t))
    frames, lmk = np.stack(frames), np.stack(lmk)
    rotated, lmk3 = PoseAugmenter(MODEL)(frames, lmk, yaw=-40.0)
    assert rotated.shape == frames.shape and lmk3.shape == lmk.shape
    for i, e in enumerate(expr):
        v = MODEL.vertices(ident, e)
        expected = _independent_projection(v[MODEL.landmarks], -40.0, pitch, roll, s, t)
        assert np.abs(lmk[i] - expected).max() > 15               # the rotation moves them
        assert np.abs(lmk3[i] - expected).max() < 1.0             # ... to where it should
        uv, depth = project(v, Pose(-40.0, pitch, roll, scale=s, t=np.array(t)))
        ref, mask = render_colors(uv, depth, MODEL.triangles, _x_texture(v), 64, 64)
        err = np.abs(rotated[i].astype(float) - 255 * ref)[mask]
        src_err = np.abs(frames[i].astype(float) - 255 * ref)[mask]
        # most face pixels show the right surface point (the rest were hidden at yaw 20 and
        # are in-painted); the unrotated frame does not
        assert np.median(err) < 4 and np.mean(err < 8) > 0.7
        assert np.median(src_err) > 30


def test_unknown_fill_mode():
    import pytest
    with pytest.raises(ValueError, match='fill_uncovered must be one of'):
        PoseAugmenter(MODEL, fill_uncovered='blur')
