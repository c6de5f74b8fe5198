import io

import torch
import torch.nn.functional as F
from mmengine.registry import MODELS as ROOT
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from mmengine.structures import InstanceData, PixelData

import plugins  # noqa: F401


def _est(binary):
    conv_cfg = dict(type='BinaryConv2d') if binary else None
    return dict(backbone=dict(type='ResNet', depth=18, base_channels=4, out_indices=(3, ),
                              conv_cfg=conv_cfg),
                head=dict(type='HeatmapHead', in_channels=32, out_channels=2,
                          deconv_out_channels=None, loss=dict(type='KeypointMSELoss')))


def test_losses_match_definitions():
    s, t = torch.randn(4, 5), torch.randn(4, 5)
    loss = ROOT.build(dict(type='LogitDistillLoss', temperature=2.0))
    p, q = F.softmax(t / 2, 1), F.softmax(s / 2, 1)
    assert torch.allclose(loss(s, t), 4 * (p * (p.log() - q.log())).sum(1).mean(), atol=1e-6)
    h1, h2 = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    assert torch.allclose(MODELS.build(dict(type='HeatmapDistillLoss'))(h1, h2),
                          ((h1 - h2)**2).mean())
    at = MODELS.build(dict(type='FeatureDistillLoss', mode='attention'))
    f1, f2 = torch.randn(2, 3, 4, 4), torch.randn(2, 7, 4, 4)
    a1 = F.normalize((f1**2).mean(1).flatten(1), dim=1)
    a2 = F.normalize((f2**2).mean(1).flatten(1), dim=1)
    assert torch.allclose(at(f1, f2), ((a1 - a2)**2).sum(1).mean())


def test_distill_estimator_loss_and_checkpoint(tmp_path):
    teacher = MODELS.build(dict(type='TopdownPoseEstimator', **_est(False)))
    path = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), path)
    model = MODELS.build(dict(type='DistillTopdownPoseEstimator', **_est(True),
                              teacher=dict(type='TopdownPoseEstimator', **_est(False)),
                              teacher_checkpoint=path,
                              feature_loss=dict(type='FeatureDistillLoss', mode='attention')))
    assert torch.equal(model.teacher.backbone.conv1.weight, teacher.backbone.conv1.weight)
    assert not any(k.startswith('teacher') for k in model.state_dict())
    assert all(not n.startswith('teacher') for n, _ in model.named_parameters())
    samples = []
    for _ in range(2):
        d = PoseDataSample()
        d.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 2))
        d.gt_fields = PixelData(heatmaps=torch.rand(2, 2, 2))
        samples.append(d)
    model.train()
    assert not model.teacher.training
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    assert {'loss_kpt', 'loss_kd', 'loss_feat'} <= set(losses)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    plain = MODELS.build(dict(type='TopdownPoseEstimator', **_est(True)))
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    plain.load_state_dict(torch.load(buf))  # strict: student checkpoints are plain


def _hg(block):
    return dict(backbone=dict(type='StackedHourglass', num_stacks=2, depth=1, channels=8,
                              out_channels=2, stem_channels=(4, 8), block=block),
                head=dict(type='MultiStackHeatmapHead', num_stacks=2, in_channels=2,
                          out_channels=2))


def test_feature_distillation_on_named_per_stack_features(tmp_path):
    """loss_feat compares the outputs of every stack's feature layer, captured here by our own
    hooks, with the attention-transfer formula; the teacher is read from a work dir."""
    binary = dict(type='HPMBlock', conv_cfg=dict(type='BinaryConv2d', scale_init='xnor'),
                  act_cfg=None)
    teacher = MODELS.build(dict(type='TopdownPoseEstimator', **_hg(dict(type='HPMBlock'))))
    work = tmp_path / 'teacher_run'
    work.mkdir()
    torch.save(dict(state_dict=teacher.state_dict()), str(work / 'epoch_2.pth'))
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    model = MODELS.build(dict(type='DistillTopdownPoseEstimator', **_hg(binary),
                              teacher=dict(type='TopdownPoseEstimator',
                                           **_hg(dict(type='HPMBlock'))),
                              teacher_checkpoint=str(work), distill_loss=None,
                              feature_loss=dict(type='FeatureDistillLoss', mode='attention'),
                              feature_modules=['backbone.features.*']))
    assert model.feature_modules == ['backbone.features.0', 'backbone.features.1']
    for a, b in zip(model.teacher.state_dict().values(), teacher.state_dict().values()):
        assert torch.equal(a, b)
    seen = {'s': [], 't': []}
    for who, net in (('s', model), ('t', model.teacher)):
        for k in range(2):
            net.backbone.features[k].register_forward_hook(
                lambda m, i, o, who=who: seen[who].append(o.detach()))
    d = PoseDataSample()
    d.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 2))
    d.gt_fields = PixelData(heatmaps=torch.rand(2, 4, 4))
    model.train()
    losses = model.loss(torch.randn(1, 3, 16, 16), [d])
    assert [f.shape[1] for f in seen['s']] == [8, 8]  # features (8 channels), not heatmaps (2)

    def at(f):
        a = f.pow(2).mean(1).flatten(1)
        return a / a.norm(dim=1, keepdim=True)

    expected = sum(((at(s) - at(t))**2).sum(1).mean()
                   for s, t in zip(seen['s'], seen['t'])) / 2
    assert torch.allclose(losses['loss_feat'], expected, atol=1e-6)
    assert not model._recorded['student']  # nothing kept alive after the step


def test_teacher_checkpoint_errors(tmp_path):
    import pytest
    from plugins.binary.distillation import resolve_teacher_checkpoint
    with pytest.raises(FileNotFoundError, match='binary_hg_mpii_distill_teacher.py'):
        resolve_teacher_checkpoint(str(tmp_path))
    with pytest.raises(ValueError, match="'backbone.nope.*'"):
        MODELS.build(dict(type='DistillTopdownPoseEstimator', **_hg(dict(type='HPMBlock')),
                          teacher=dict(type='TopdownPoseEstimator',
                                       **_hg(dict(type='HPMBlock'))),
                          feature_modules=['backbone.nope.*']))
