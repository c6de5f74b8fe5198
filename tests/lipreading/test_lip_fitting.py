"""3DMM landmark fitting recovers known pose, identity and expression of a synthetic face."""
import numpy as np
import pytest

from plugins.lipreading.camera import Pose, euler_from_rotation, project, rotation_matrix
from plugins.lipreading.fitting import LandmarkError, fit_clip, fit_landmarks
from plugins.lipreading.morphable_model import generate_toy_model

MODEL = generate_toy_model()


def test_euler_roundtrip():
    r = rotation_matrix(*np.deg2rad([35.0, -12.0, 7.0]))
    assert np.allclose(r @ r.T, np.eye(3))
    assert np.allclose(np.rad2deg(euler_from_rotation(r)), [35, -12, 7])


@pytest.mark.parametrize('yaw,pitch,roll', [(0, 0, 0), (30, -10, 5), (-50, 8, -4)])
def test_orthographic_fit_recovers_parameters(yaw, pitch, roll):
    rng = np.random.default_rng(1)
    shape = rng.normal(0, 0.8, MODEL.num_shape)
    expr = np.array([0.8, 0.3, 0.0, 0.2])
    pose = Pose(yaw, pitch, roll, scale=30.0, t=np.array([50.0, 60.0]))
    lmk, _ = project(MODEL.landmark_vertices(shape, expr), pose)
    fit = fit_landmarks(MODEL, lmk, lambda_shape=1e-9, lambda_expr=1e-9, max_iters=100)
    assert fit.rmse < 0.05
    assert abs(fit.pose.yaw - yaw) < 1.0 and abs(fit.pose.pitch - pitch) < 1.0
    assert abs(fit.pose.roll - roll) < 1.0
    assert fit.pose.scale == pytest.approx(30.0, rel=0.02)
    assert np.allclose(fit.pose.t, [50, 60], atol=0.5)
    # identity directions that move landmarks in the image plane are well determined
    assert np.allclose(fit.shape[[0, 1, 3, 4]], shape[[0, 1, 3, 4]], atol=0.15)
    assert np.allclose(fit.expr[:2], expr[:2], atol=0.15)


def test_perspective_fit_recovers_pose():
    shape = np.zeros(MODEL.num_shape)
    pose = Pose(25, 5, -3, t=np.array([0.1, -0.2, -12.0]), camera='perspective', focal=400.0,
                cx=64.0, cy=64.0)
    lmk, _ = project(MODEL.landmark_vertices(shape, np.zeros(4)), pose)
    fit = fit_landmarks(MODEL, lmk, camera='perspective', focal=400.0, principal_point=(64, 64),
                        lambda_shape=1e-6, lambda_expr=1e-6, max_iters=100)
    assert fit.rmse < 0.1
    assert abs(fit.pose.yaw - 25) < 1.5 and abs(fit.pose.pitch - 5) < 1.5
    assert abs(fit.pose.t[2] + 12.0) < 0.6


def test_clip_fit_shares_identity_and_tracks_expression():
    rng = np.random.default_rng(2)
    shape = rng.normal(0, 0.5, MODEL.num_shape)
    opens = np.linspace(0, 1, 5)
    lmks = np.stack([project(MODEL.landmark_vertices(shape, np.array([o, 0, 0, 0])),
                             Pose(10, 0, 0, scale=25, t=np.array([40., 40.])))[0]
                     for o in opens])
    fits = fit_clip(MODEL, lmks, lambda_shape=1e-9, lambda_expr=1e-9)
    assert len(fits) == 5
    assert np.allclose([f.expr[0] for f in fits], opens, atol=0.1)


def test_bad_landmarks_give_clear_errors():
    with pytest.raises(LandmarkError, match='missing'):
        fit_landmarks(MODEL, None)
    with pytest.raises(LandmarkError, match=r'\(68, 2\)'):
        fit_landmarks(MODEL, np.zeros((5, 2)))
    bad = np.zeros((68, 2))
    bad[3] = np.nan
    with pytest.raises(LandmarkError, match='NaN'):
        fit_landmarks(MODEL, bad)
    with pytest.raises(ValueError, match='camera must be one of'):
        fit_landmarks(MODEL, np.zeros((68, 2)), camera='fisheye')
