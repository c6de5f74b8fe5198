"""The independent test-head model and the yaw of faces rotated by the pose augmentation.

The test clips of the fair lip-reading evidence come from a head model that neither training
nor the augmentation uses (plugins/lipreading/head_model.py). These tests check that it is a
different face, that its expression channels mean the same mouth motions as the toy model's
(measured on landmark geometry), and that the augmentation really rotates a face it did not
build to the requested yaw (measured on the image, against renders of the true head).
"""
import json
import os.path as osp

import numpy as np
import pytest

from plugins.lipreading.camera import Pose, project
from plugins.lipreading.fitting import fit_landmarks
from plugins.lipreading.head_model import generate_independent_head_model
from plugins.lipreading.morphable_model import generate_toy_model
from plugins.lipreading.pose_augment import PoseAugmenter
from plugins.lipreading.renderer import render_colors
from plugins.lipreading.synthetic import generate_lrw_synthetic

SIZE = 96


@pytest.fixture(scope='module')
def head():
    return generate_independent_head_model()


@pytest.fixture(scope='module')
def toy():
    return generate_toy_model()


def _mouth_geometry(model, expr):
    """Inner-lip gap, mouth-corner width, lip protrusion and upper-lip height (iBUG-68)."""
    p = model.landmark_vertices(None, np.asarray(expr, float))
    return dict(gap=p[62, 1] - p[66, 1], width=p[54, 0] - p[48, 0],
                forward=p[[51, 57], 2].mean(), upper=p[51, 1])


def test_independent_head_is_another_mesh(head, toy):
    assert head.num_vertices != toy.num_vertices
    assert head.num_shape == 8 and head.num_expr == 4 and len(head.landmarks) == 68
    # a lat-long head reaches round the sides: depth range far larger than the toy face mask
    z_head = np.ptp(head.mean.reshape(-1, 3)[:, 2])
    z_toy = np.ptp(toy.mean.reshape(-1, 3)[:, 2])
    assert z_head > 1.25 * z_toy
    # identity components are orthogonal (PCA), unlike the toy's hand-written fields
    g = head.shape_basis.T @ head.shape_basis
    assert np.allclose(g - np.diag(np.diag(g)), 0, atol=1e-8 * g.max())


@pytest.mark.parametrize('name', ['head', 'toy'])
@pytest.mark.parametrize('channel,key,sign', [(0, 'gap', 1), (1, 'width', 1), (2, 'width', -1),
                                              (2, 'forward', 1), (3, 'upper', 1)])
def test_expression_channels_mean_the_same_motion(request, name, channel, key, sign):
    """Both models: jaw open widens the inner-lip gap, stretch widens the mouth, pucker narrows
    and protrudes it, raise lifts the upper lip (y up, z towards the camera)."""
    model = request.getfixturevalue(name)
    e = np.zeros(4)
    e[channel] = 1.0
    change = _mouth_geometry(model, e)[key] - _mouth_geometry(model, np.zeros(4))[key]
    assert sign * change > 0.03, (name, channel, key, change)


def _render_head(head, yaw, shape, expr):
    """Flat-albedo orthographic render (appearance independent of the view)."""
    pose = Pose(yaw=yaw, scale=SIZE * 0.3, t=np.array([SIZE / 2, SIZE * 0.55]))
    uv, depth = project(head.vertices(shape, expr), pose)
    img, mask = render_colors(uv, depth, head.triangles, head.colors, SIZE, SIZE,
                              background=np.full((SIZE, SIZE), 0.5))
    return (img * 255).astype(np.uint8), uv[head.landmarks], mask


def test_toy_fit_sees_the_pose_of_a_head_it_did_not_build(head, toy):
    rng = np.random.default_rng(0)
    shape, expr = rng.normal(0, 1, 8), np.array([0.3, 0, 0, 0])
    est = []
    for yaw in (0, 20, 40):
        lmk = _render_head(head, yaw, shape, expr)[1]
        assert abs(fit_landmarks(head, lmk).pose.yaw - yaw) < 2.0     # own model: exact
        est.append(fit_landmarks(toy, lmk).pose.yaw)
    # the flatter toy face under-estimates the yaw of a deeper head, but orders it
    assert abs(est[0]) < 3 and est[0] < est[1] < est[2]


@pytest.mark.parametrize('target', [20.0, 35.0])
def test_augmented_face_is_at_the_requested_yaw(head, toy, target):
    """Rotate a frontal independent-head frame with the toy-model augmentation; the output
    image matches renders of the true head best near the requested yaw, and re-fitting the 3DMM
    from scratch to the output landmarks recovers it."""
    rng = np.random.default_rng(1)
    shape, expr = rng.normal(0, 1, 8), np.array([0.3, 0, 0, 0])
    frame, lmk, _ = _render_head(head, 0.0, shape, expr)
    out, out_lmk = PoseAugmenter(toy)(frame[None], lmk[None], yaw=target)
    refit = fit_landmarks(toy, out_lmk[0])
    assert abs(refit.pose.yaw - target) < 5.0
    candidates = np.arange(-10.0, 62.5, 2.5)
    errors = []
    for c in candidates:
        ref, _, mask = _render_head(head, c, shape, expr)
        errors.append(np.mean((out[0][mask].astype(float) - ref[mask].astype(float))**2))
    best = candidates[int(np.argmin(errors))]
    assert abs(best - target) <= 10.0, (target, best)
    # and the unrotated frame is best matched by the frontal render (the measure works)
    assert abs(candidates[int(np.argmin([np.mean((frame[m].astype(float) - r[m])**2) for r, _, m in
                                         (_render_head(head, c, shape, expr)
                                          for c in candidates)]))]) <= 2.5


def test_generator_renders_test_clips_with_the_independent_head(tmp_path, toy):
    root = str(tmp_path)
    generate_lrw_synthetic(root, seed=0, words=('ABOUT', ), num_train=1, num_val=0, num_test=2,
                           test_head='independent')
    with open(osp.join(root, 'meta.json')) as f:
        assert json.load(f)['test_head'] == 'independent'
    train = np.load(osp.join(root, 'ABOUT', 'train', 'ABOUT_00001.npz'))
    test = np.load(osp.join(root, 'ABOUT', 'test', 'ABOUT_00001.npz'))
    assert test['frames'].shape == (29, 64, 64) and test['landmarks'].shape == (29, 68, 2)
    # the toy model explains its own clips' landmarks (noise 0.3 px) much better than the
    # independent head's
    err_train = fit_landmarks(toy, train['landmarks'][0]).rmse
    err_test = fit_landmarks(toy, test['landmarks'][0]).rmse
    assert err_test > 2 * err_train
    with pytest.raises(ValueError, match='test_head'):
        generate_lrw_synthetic(root, words=('ABOUT', ), num_train=0, num_val=0, num_test=0,
                               test_head='bfm')


def test_matched_amplitudes_bring_other_lip_measures_closer(head, toy):
    """Matching scales each channel on one landmark measure (inner-lip gap, corner width, upper
    lip); a measure it did not use -- the outer-lip opening (51 to 57) for the jaw -- moves
    closer to the toy model's, and the shapes of the motions are untouched (scaled basis)."""
    from plugins.lipreading.head_model import match_expression_amplitudes
    matched = match_expression_amplitudes(head, toy)

    def outer_opening(model, jaw):
        p = model.landmark_vertices(None, np.array([jaw, 0, 0, 0.0]))
        eyes = np.linalg.norm(p[45] - p[36])
        return (p[51, 1] - p[57, 1]) / eyes

    def change(model):
        return outer_opening(model, 1.0) - outer_opening(model, 0.0)

    assert abs(change(matched) - change(toy)) < 0.5 * abs(change(head) - change(toy))
    cos = np.sum(matched.expr_basis * head.expr_basis, 0) / (
        np.linalg.norm(matched.expr_basis, axis=0) * np.linalg.norm(head.expr_basis, axis=0))
    assert np.allclose(cos, 1.0)
    assert np.array_equal(matched.mean, head.mean)
