"""Reference widths and the reference's three-stage schedule of the LRW configs."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import MODELS
from mmengine.runner.checkpoint import load_checkpoint
from mmengine.structures import BaseDataElement

import plugins  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGES = ('lipnet_resnet18_lrw_stage1_tconv', 'lipnet_resnet18_lrw_stage2_gru_frozen',
          'lipnet_resnet18_lrw_stage3_finetune')
TINY = dict(num_classes=4, front_channels=4, widths=(4, 8, 8, 16), blocks=(1, 1, 1, 1),
            bottleneck=8)


def model_cfg(name, **override):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'lipreading', name + '.py')).model
    hidden = override.pop('hidden', None)
    cfg.update(override)
    if hidden is not None:
        cfg.backend['hidden'] = hidden
    return cfg


def gru_params(i, h, layers=2):
    """Parameters of a bidirectional nn.GRU: 3 gates x (W_ih, W_hh, b_ih, b_hh) x 2 dirs."""
    total, inp = 0, i
    for _ in range(layers):
        total += 2 * 3 * (h * inp + h * h + 2 * h)
        inp = 2 * h
    return total


def test_lrw_config_has_the_reference_widths():
    model = MODELS.build(model_cfg('lipnet_resnet18_bigru_lrw'))
    lin, bn = model.bottleneck
    assert (lin.in_features, lin.out_features, bn.num_features) == (512, 256, 256)
    assert sum(p.numel() for p in model.backend.parameters()) == gru_params(256, 512)
    assert model.classifier.in_features == 1024
    wide = MODELS.build(model_cfg('lipnet_resnet18_bigru_lrw', hidden=1024))
    assert sum(p.numel() for p in wide.backend.parameters()) == gru_params(256, 1024)


def test_reference_temporal_conv_backend_shapes():
    cfg = model_cfg(STAGES[0], **TINY)
    model = MODELS.build(cfg)
    x = torch.randn(2, 1, 29, 24, 24)
    # 29 frames: conv 5/2 -> 13, max-pool 2 -> 6, conv 5/2 -> 1
    assert model.backend.convs(torch.randn(2, 8, 29)).shape == (2, 32, 1)
    assert model.backend(torch.randn(2, 29, 8)).shape == (2, 8)   # pooled over time
    assert model(x).shape == (2, 4) and model.classifier.in_features == 8


def _step(model, n=1):
    model.train()
    wrapper = OptimWrapper(torch.optim.Adam([p for p in model.parameters() if p.requires_grad],
                                            lr=1e-2))
    data = dict(inputs=[torch.randint(0, 255, (1, 29, 24, 24), dtype=torch.uint8)
                        for _ in range(4)],
                data_samples=[BaseDataElement(gt_label=torch.tensor([i % 4])) for i in range(4)])
    for _ in range(n):
        model.train_step(data, wrapper)


def test_stage2_trains_only_the_gru_and_classifier():
    model = MODELS.build(model_cfg(STAGES[1], **TINY))
    assert model.frozen == ('frontend', 'trunk', 'bottleneck')
    before = {k: v.clone() for k, v in model.named_parameters()}
    _step(model, 2)
    after = dict(model.named_parameters())
    for k, v in before.items():
        same = torch.equal(v, after[k])
        if k.startswith(('frontend', 'trunk', 'bottleneck')):
            assert same, k
        else:
            assert not same, k


def test_stages_hand_over_weights(tmp_path):
    torch.manual_seed(0)
    stage1 = MODELS.build(model_cfg(STAGES[0], **TINY))
    _step(stage1)
    path = str(tmp_path / 'stage1.pth')
    torch.save(dict(state_dict=stage1.state_dict()), path)
    stage2 = MODELS.build(model_cfg(STAGES[1], **TINY))
    gru = {k: v.clone() for k, v in stage2.backend.state_dict().items()}
    cls = stage2.classifier.weight.clone()
    load_checkpoint(stage2, path, strict=False)      # as Runner(load_from=...) does
    # the temporal-conv classifier (8 -> 4) does not fit the GRU's (16 -> 4): not loaded
    assert torch.equal(stage2.classifier.weight, cls)
    for name in ('frontend', 'trunk', 'bottleneck'):
        for k, v in getattr(stage1, name).state_dict().items():
            assert torch.equal(v, getattr(stage2, name).state_dict()[k]), (name, k)
    for k, v in stage2.backend.state_dict().items():   # the new GRU keeps its own init
        assert torch.equal(v, gru[k])
    # stage 3 unfreezes everything and reads stage 2's full state
    stage3 = MODELS.build(model_cfg(STAGES[2], **TINY))
    assert stage3.frozen == () and all(p.requires_grad for p in stage3.parameters())
    stage3.load_state_dict(stage2.state_dict())


def test_frozen_names_are_checked():
    with pytest.raises(ValueError, match='frozen must name'):
        MODELS.build(model_cfg(STAGES[1], **dict(TINY, frozen=('resnet', ))))
    with pytest.raises(ValueError, match='cannot freeze'):
        MODELS.build(model_cfg(STAGES[1], **dict(TINY, bottleneck=None)))
