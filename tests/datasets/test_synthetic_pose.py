"""Tests of the embedded MPII-format pose generator (plugins/datasets/synthetic_pose)."""
import filecmp
import json
import os
import os.path as osp

import numpy as np
import pytest
from scipy.io import loadmat

import plugins  # noqa: F401  (compat layer + registries)
from plugins.datasets import DATA_GENERATORS
from plugins.datasets.synthetic_pose import (BONES, JOINT_LIMITS, JOINT_NAMES, SceneOptions,
                                             render_sample, sample_pose)

INPUT_SIZE = (128, 128)
CODEC = dict(type='MSRAHeatmap', input_size=INPUT_SIZE, heatmap_size=(32, 32), sigma=1)
PIPELINE = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=INPUT_SIZE),
    dict(type='GenerateTarget', encoder=CODEC),
    dict(type='PackPoseInputs'),
]
J = {name: i for i, name in enumerate(JOINT_NAMES)}


def generate(out, seed=0, **kw):
    opts = dict(num_train=4, num_val=4, img_size=64)
    opts.update(kw)
    return DATA_GENERATORS.get('mpii_synthetic')(str(out), seed=seed, **opts)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """A tiny set with many truncated and occluded figures."""
    out = tmp_path_factory.mktemp('mpii_synthetic')
    generate(out, seed=1, num_train=6, num_val=8, img_size=96, p_truncation=0.5,
             p_occlusion=0.5)
    return str(out)


def build_mpii(ann_file, img_dir, headbox_file=None, pipeline=PIPELINE):
    from mmengine.registry import DefaultScope
    from mmpose.registry import DATASETS
    cfg = dict(type='MpiiDataset', ann_file=ann_file, data_prefix=dict(img=img_dir),
               pipeline=pipeline, test_mode=True)
    if headbox_file:
        cfg['headbox_file'] = headbox_file
    with DefaultScope.overwrite_default_scope('mmpose'):  # the pipeline's transforms
        return DATASETS.build(cfg)


def tree_files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_deterministic_for_a_seed(tmp_path):
    a, b, c = (generate(tmp_path / n, seed=s) for n, s in (('a', 0), ('b', 0), ('c', 1)))
    files = tree_files(a['out_dir'])
    assert 'annotations/mpii_gt_val.mat' in files and len(files) == 4 + 4 + 4
    assert files == tree_files(b['out_dir'])
    _, mismatch, errors = filecmp.cmpfiles(a['out_dir'], b['out_dir'], files, shallow=False)
    assert mismatch == [] and errors == []
    _, mismatch, _ = filecmp.cmpfiles(a['out_dir'], c['out_dir'], files, shallow=False)
    assert {'annotations/mpii_train.json', 'annotations/mpii_val.json'} <= set(mismatch)
    assert sum(f.startswith('images') for f in mismatch) == 8
    # a split does not depend on the size of the other split
    d = generate(tmp_path / 'd', seed=0, num_train=1)
    assert filecmp.cmp(osp.join(a['out_dir'], 'annotations/mpii_val.json'),
                       osp.join(d['out_dir'], 'annotations/mpii_val.json'), shallow=False)


def test_parallel_workers_write_the_same_files(tmp_path):
    """Rendering over several processes (chunks of images) changes no byte of the output."""
    a = generate(tmp_path / 'a', seed=3, num_train=120, num_val=60, workers=1)
    b = generate(tmp_path / 'b', seed=3, num_train=120, num_val=60, workers=2)
    files = tree_files(a['out_dir'])
    assert len(files) == 120 + 60 + 4 and files == tree_files(b['out_dir'])
    _, mismatch, errors = filecmp.cmpfiles(a['out_dir'], b['out_dir'], files, shallow=False)
    assert mismatch == [] and errors == []


def signed_angle(u, v):
    return np.arctan2(u[0] * v[1] - u[1] * v[0], u @ v)


def test_joint_limits_respected():
    rng = np.random.default_rng(0)
    out = {'right': -1.0, 'left': 1.0}  # outward rotation sign, canonical front view (y up)
    seen = {name: [] for name in ('shoulder', 'elbow', 'hip', 'knee', 'neck', 'head')}
    for _ in range(300):
        pose = sample_pose(rng)
        p = pose.joints
        spine = p[J['thorax']] - p[J['pelvis']]
        neck = p[J['upper_neck']] - p[J['thorax']]
        seen['neck'].append(signed_angle(spine, neck))
        seen['head'].append(signed_angle(neck, p[J['head_top']] - p[J['upper_neck']]))
        # the figure's right side is at the right-hand normal of the spine (faces the camera)
        r_side = p[J['right_shoulder']] - p[J['thorax']]
        assert spine[0] * r_side[1] - spine[1] * r_side[0] > 0
        for side, s in out.items():
            upper = p[J[f'{side}_elbow']] - p[J[f'{side}_shoulder']]
            fore = p[J[f'{side}_wrist']] - p[J[f'{side}_elbow']]
            seen['shoulder'].append(s * signed_angle(-spine, upper))
            seen['elbow'].append(-s * signed_angle(upper, fore))
            hips = p[J['left_hip']] - p[J['right_hip']]
            down = np.array([hips[1], -hips[0]])  # pelvis "down" axis
            thigh = p[J[f'{side}_knee']] - p[J[f'{side}_hip']]
            shin = p[J[f'{side}_ankle']] - p[J[f'{side}_knee']]
            seen['hip'].append(s * signed_angle(down, thigh))
            seen['knee'].append(-s * signed_angle(thigh, shin))
            assert pose.angles[f'{side}_elbow'] == pytest.approx(seen['elbow'][-1], abs=1e-9)
    for name, values in seen.items():
        lo, hi = JOINT_LIMITS[name]
        values = np.asarray(values)
        assert values.min() >= lo - 1e-9 and values.max() <= hi + 1e-9, name
        assert values.max() - values.min() > 0.5 * (hi - lo), name  # the range is explored


def segment_distance(px, a, b):
    d = b - a
    t = np.clip(((px - a) @ d) / max(d @ d, 1e-9), 0, 1)
    return np.linalg.norm(px - (a + t[:, None] * d), axis=1)


def test_rendered_figure_lies_along_the_bones():
    opts = SceneOptions(p_occlusion=0.0, p_truncation=0.5, p_blur=0.0, noise=0.0)
    extra = [('right_shoulder', 'left_shoulder'), ('right_hip', 'left_hip'),
             ('right_shoulder', 'right_hip'), ('left_shoulder', 'left_hip')]
    segments = list(BONES.values()) + [(J[a], J[b]) for a, b in extra]
    for i in range(12):
        s = render_sample(np.random.default_rng([5, i]), 96, opts)
        h, w = s.parts.shape
        inside = np.all((s.joints >= 0) & (s.joints <= w - 1), axis=1)
        np.testing.assert_array_equal(s.visible, inside.astype(int))
        # every bone's midpoint inside the image is covered by the figure
        for a, b in BONES.values():
            x, y = np.round((s.joints[a] + s.joints[b]) / 2).astype(int)
            if 0 <= x < w and 0 <= y < h:
                assert s.parts[y, x] > 0
        # every visible joint is on the figure (head top: on its outline)
        for x, y in np.round(s.joints[s.visible == 1]).astype(int):
            assert s.parts[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].max() > 0
        # and no figure pixel is far from the skeleton
        ys, xs = np.nonzero(s.parts)
        px = np.stack([xs, ys], 1).astype(float)
        dist = np.min([segment_distance(px, s.joints[a], s.joints[b]) for a, b in segments], 0)
        assert dist.max() <= 0.15 * s.px_per_unit + 1.5
        # the figure is in the image: it differs from the figure-free background statistics
        assert s.image[s.parts > 0].std() > 0


def test_left_right_follow_the_view():
    for view, p_back in (('front', 0.0), ('back', 1.0)):
        opts = SceneOptions(max_rotation=0.0, p_back_view=p_back, p_truncation=0.0)
        for i in range(5):
            s = render_sample(np.random.default_rng([7, i]), 64, opts)
            assert s.view == view
            dx = s.joints[J['right_shoulder'], 0] - s.joints[J['left_shoulder'], 0]
            dh = s.joints[J['right_hip'], 0] - s.joints[J['left_hip'], 0]
            # front: the figure's right is on the image's left; back view: on the right
            assert (dx < 0 and dh < 0) if view == 'front' else (dx > 0 and dh > 0)


def test_occluded_joints_stay_visible_and_truncated_ones_not():
    occluded = 0
    for i in range(10):
        s = render_sample(np.random.default_rng([9, i]), 64,
                          SceneOptions(p_occlusion=1.0, p_truncation=0.0))
        assert s.visible.all() and s.occluder_mask.any()
        occluded += int(s.occluded.sum())
    assert occluded > 0
    hidden = 0
    for i in range(10):
        s = render_sample(np.random.default_rng([9, i]), 64,
                          SceneOptions(p_truncation=1.0, truncation=(0.4, 0.5)))
        hidden += int((s.visible == 0).sum())
    assert hidden > 0


def test_annotation_files(data_root):
    val = json.load(open(osp.join(data_root, 'annotations/mpii_val.json')))
    assert len(val) == 8
    mat = loadmat(osp.join(data_root, 'annotations/mpii_gt_val.mat'))
    assert mat['headboxes_src'].shape == (2, 2, 8)
    assert mat['jnt_missing'].shape == (16, 8) and mat['pos_gt_src'].shape == (16, 2, 8)
    n_hidden = 0
    for k, rec in enumerate(val):
        assert set(rec) == {'image', 'center', 'scale', 'joints', 'joints_vis'}
        assert osp.isfile(osp.join(data_root, 'images', rec['image']))
        joints, vis = np.array(rec['joints']), np.array(rec['joints_vis'])
        assert joints.shape == (16, 2) and vis.shape == (16,)
        # 1-based coordinates inside the 96 px image; out-of-image joints are [-1, -1]
        assert np.all((joints[vis == 1] >= 1) & (joints[vis == 1] <= 96))
        assert np.all(joints[vis == 0] == -1)
        n_hidden += int((vis == 0).sum())
        np.testing.assert_array_equal(mat['jnt_missing'][:, k], 1 - vis)
        # the person box (centre, scale * 200) holds the visible joints
        half = rec['scale'] * 100
        assert np.all(np.abs(joints[vis == 1] - rec['center']) <= half + 1e-3)
        # the head box holds the head segment
        (x1, y1), (x2, y2) = mat['headboxes_src'][:, :, k]
        for name in ('head_top', 'upper_neck'):
            if vis[J[name]]:
                x, y = joints[J[name]]
                assert x1 - 1e-3 <= x <= x2 + 1e-3 and y1 - 1e-3 <= y <= y2 + 1e-3
    assert n_hidden > 0  # truncation happened in this set


def test_loads_through_mmpose_mpii_dataset(data_root):
    img_dir = osp.join(data_root, 'images')
    hb = osp.join(data_root, 'annotations/mpii_gt_val.mat')
    val = build_mpii(osp.join(data_root, 'annotations/mpii_val.json'), img_dir, hb)
    train = build_mpii(osp.join(data_root, 'annotations/mpii_train.json'), img_dir)
    assert len(val) == 8 and len(train) == 6
    recs = json.load(open(osp.join(data_root, 'annotations/mpii_val.json')))
    for k in range(len(val)):
        info = val.get_data_info(k)
        np.testing.assert_allclose(info['keypoints'][0], recs[k]['joints'], atol=1e-4)
        head = np.array(recs[k]['joints'])[[J['upper_neck'], J['head_top']]]
        if info['keypoints_visible'][0][[J['upper_neck'], J['head_top']]].all():
            # PCKh's head size: 0.6 x the head box diagonal, about the head segment length
            seg = np.linalg.norm(head[1] - head[0])
            assert info['head_size'].shape == (1, 1) and 0.5 * seg < info['head_size'][0, 0] < seg
    sample = val[0]
    assert tuple(sample['inputs'].shape) == (3, 128, 128)
    gt = sample['data_samples']
    assert tuple(gt.gt_fields.heatmaps.shape) == (16, 32, 32)
    assert gt.gt_instance_labels.keypoint_weights.shape == (1, 16)
    assert tuple(train[0]['inputs'].shape) == (3, 128, 128)


def test_pckh_of_ground_truth_is_100(data_root):
    from mmpose.evaluation.metrics import MpiiPCKAccuracy
    val = build_mpii(osp.join(data_root, 'annotations/mpii_val.json'),
                     osp.join(data_root, 'images'),
                     osp.join(data_root, 'annotations/mpii_gt_val.mat'), pipeline=[])

    def pckh(offset_in_head_sizes):
        metric = MpiiPCKAccuracy()
        for k in range(len(val)):
            info = val.get_data_info(k)
            gt = dict(keypoints=info['keypoints'], keypoints_visible=info['keypoints_visible'],
                      head_size=info['head_size'])
            # the metric adds 1 to predictions (0-based -> MPII's 1-based)
            pred = info['keypoints'] - 1.0
            pred[..., 0] += offset_in_head_sizes * info['head_size'][0, 0]
            metric.process([], [dict(gt_instances=gt, pred_instances=dict(keypoints=pred))])
        return metric.evaluate(len(val))

    assert pckh(0.0)['PCK'] == pytest.approx(100.0)
    assert pckh(0.4)['PCK'] == pytest.approx(100.0)
    assert pckh(0.6)['PCK'] == pytest.approx(0.0)


def test_real_mpii_sample_loads_through_the_same_pipeline(shared_data):
    real = osp.join(shared_data, 'mpii')  # MMPose's test sample: 5 images, test_mpii.json
    ds = build_mpii(osp.join(real, 'test_mpii.json'), real)
    assert len(ds) == 5
    for k in range(len(ds)):
        sample = ds[k]
        assert tuple(sample['inputs'].shape) == (3, 128, 128)
        assert tuple(sample['data_samples'].gt_fields.heatmaps.shape) == (16, 32, 32)


def test_bad_options_fail_early(tmp_path):
    with pytest.raises(KeyError, match='p_occlusion'):
        generate(tmp_path, p_ocllusion=0.5)
    with pytest.raises(ValueError, match='img_format'):
        generate(tmp_path, img_format='gif')
    with pytest.raises(ValueError, match='p_truncation'):
        generate(tmp_path, p_truncation=2.0)
