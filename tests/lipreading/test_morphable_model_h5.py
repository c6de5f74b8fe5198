"""A Basel-Face-Model-2017-layout ``.h5`` morphable model loads (h5py is installed) and gives
the BFM's documented shape ``mean + pcaBasis @ (sqrt(pcaVariance) * alpha)``."""
import h5py
import numpy as np
import pytest

from plugins.lipreading.morphable_model import MorphableModel, MorphableModelFormatError


def _write_bfm(path, n=40, ks=5, ke=3, t=30, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {
        'shape/model/mean': rng.normal(size=3 * n).astype(np.float32),
        'shape/model/pcaBasis': rng.normal(size=(3 * n, ks)).astype(np.float32),
        'shape/model/pcaVariance': rng.uniform(0.5, 4, size=ks).astype(np.float32),
        'shape/representer/cells': rng.integers(0, n, size=(3, t)).astype(np.uint32),
        'expression/model/mean': np.zeros(3 * n, np.float32),
        'expression/model/pcaBasis': rng.normal(size=(3 * n, ke)).astype(np.float32),
        'expression/model/pcaVariance': rng.uniform(0.1, 1, size=ke).astype(np.float32),
        'color/model/mean': rng.uniform(size=3 * n).astype(np.float32),
    }
    with h5py.File(path, 'w') as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
    return arrays


def test_bfm_h5_loads_with_the_documented_shape_formula(tmp_path):
    path = str(tmp_path / 'model2017-1_face12_nomouth.h5')
    a = _write_bfm(path)
    landmarks = np.arange(0, 40, 4)
    model = MorphableModel.load(path, landmarks=landmarks)
    rng = np.random.default_rng(1)
    alpha, beta = rng.normal(size=5), rng.normal(size=3)
    expected = (a['shape/model/mean'].astype(np.float64)
                + a['shape/model/pcaBasis'] @ (np.sqrt(a['shape/model/pcaVariance']) * alpha)
                + a['expression/model/pcaBasis']
                @ (np.sqrt(a['expression/model/pcaVariance']) * beta)).reshape(-1, 3)
    np.testing.assert_allclose(model.vertices(alpha, beta), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(model.triangles, a['shape/representer/cells'].T)
    np.testing.assert_array_equal(model.landmarks, landmarks)
    np.testing.assert_allclose(model.colors, a['color/model/mean'].reshape(-1, 3))
    np.testing.assert_allclose(model.landmark_vertices(alpha, beta), expected[landmarks],
                               rtol=1e-5, atol=1e-5)


def test_bfm_h5_without_landmarks_names_the_missing_key(tmp_path):
    path = str(tmp_path / 'bfm.h5')
    _write_bfm(path)
    with pytest.raises(MorphableModelFormatError, match="missing \\['landmarks'\\]"):
        MorphableModel.load(path)
