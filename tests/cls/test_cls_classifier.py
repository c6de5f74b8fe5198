"""The mmengine classifier, preprocessor and metric; configs of configs/cls build."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import DATASETS, METRICS, MODELS

import plugins  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _batch(n=4, classes=10, size=8):
    g = torch.Generator().manual_seed(0)
    return dict(inputs=torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8),
                data_samples=dict(gt_label=torch.arange(n) % classes))


def _tiny(**kw):
    return MODELS.build(dict(dict(type='TimmClassifier', timm_model='real_resnet18',
                                  num_classes=10, timm_kwargs=dict(width=4, stem='small')), **kw))


def test_train_step_loss_predict():
    torch.manual_seed(0)
    model = _tiny()
    data = model.data_preprocessor(_batch(), training=True)
    assert data['inputs'].dtype == torch.float32 and data['inputs'].abs().max() <= 1.0
    loss = model(**data, mode='loss')['loss']
    assert loss.ndim == 0 and loss > 0
    # the loss is the cross entropy of the tensor-mode logits
    logits = model(data['inputs'], mode='tensor')
    labels = data['data_samples']['gt_label']
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(logits, labels))
    model.eval()
    preds = model.val_step(_batch())
    assert len(preds) == 4 and preds[0]['pred_score'].shape == (10, )
    assert preds[1]['gt_label'] == 1


def test_backbone_config_and_mmpose_style_feature_backbone():
    m = _tiny(timm_model=None, backbone=dict(type='ConvCfgResNet', layers=(1, 1), width=4,
                                             stem='small', num_classes=10))
    assert m(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    m = MODELS.build(dict(type='TimmClassifier', num_classes=3, backbone=dict(
        type='ConvCfgResNet', layers=(1, ), width=4, num_classes=0, stem='small')))
    assert m.head is not None and m(torch.randn(2, 3, 8, 8)).shape == (2, 3)
    # a stock MMPose backbone (tuple of feature maps) with binary convs through conv_cfg
    m = MODELS.build(dict(type='TimmClassifier', num_classes=3, in_channels=512, backbone=dict(
        type='mmpose.ResNet', depth=18, conv_cfg=dict(type='BinaryConv2d', scale='xnor'))))
    assert any(type(x).__name__ == 'BinaryConv2d' for x in m.modules())
    assert m(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    with pytest.raises(ValueError, match='exactly one'):
        MODELS.build(dict(type='TimmClassifier', num_classes=3))


def test_label_outside_classes_is_a_clear_error():
    model = _tiny(num_classes=2)
    data = model.data_preprocessor(_batch(classes=10))
    with pytest.raises(ValueError, match="outside the classifier's 2 classes"):
        model(**data, mode='loss')


def test_unknown_timm_model():
    with pytest.raises(KeyError, match='unknown timm model'):
        _tiny(timm_model='real_resnet81')


def test_accuracy_metric_by_hand():
    metric = METRICS.build(dict(type='ClsAccuracy', topk=(1, 2)))
    scores = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    metric.process(None, [dict(pred_score=s, gt_label=y) for s, y in zip(scores, [0, 1, 2])])
    out = metric.evaluate(3)
    assert out['cls/top1'] == pytest.approx(100 / 3)
    assert out['cls/top2'] == pytest.approx(200 / 3)


def test_digits_configs_build_and_run_one_step():
    files = sorted(glob.glob(osp.join(ROOT, 'configs/cls/digits/*.py')))
    assert len(files) >= 9
    for f in files:
        cfg = Config.fromfile(f)
        assert cfg.model.num_classes == cfg.train_dataloader.dataset.num_classes
    cfg = Config.fromfile(osp.join(ROOT, 'configs/cls/digits/binary_resnet18_rank1_digits.py'))
    cfg.model.timm_kwargs.width = 4
    model = MODELS.build(cfg.model)
    ds = DATASETS.build(cfg.val_dataloader.dataset)
    data = default_collate([ds[i] for i in range(4)])
    optim = torch.optim.Adam(model.parameters(), 1e-3)
    from mmengine.optim import OptimWrapper
    loss = model.train_step(data, OptimWrapper(optim))['loss']
    assert torch.isfinite(loss)
    # size-dependent scales are resolved at build (input_size): a fresh model loads strictly
    fresh = MODELS.build(cfg.model)
    fresh.load_state_dict(model.state_dict(), strict=True)
    model.eval()
    fresh.eval()
    x = model.data_preprocessor(data)['inputs']
    assert torch.equal(model(x), fresh(x))


def test_other_configs_parse():
    for sub in ('multidomain', 'decathlon', 'imagenet'):
        files = sorted(glob.glob(osp.join(ROOT, f'configs/cls/{sub}/*.py')))
        assert files, sub
        for f in files:
            cfg = Config.fromfile(f)
            assert cfg.model.type in ('TimmClassifier', 'MultiDomainClassifier')
