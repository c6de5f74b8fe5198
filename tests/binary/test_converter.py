import pytest
import timm
import torch
from torch import nn

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d, BinaryLinear, binarize


def _net():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 1)),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 8), nn.Linear(8, 4))


def test_first_last_real_and_weights_copied():
    net = _net()
    w = net[2][0].weight.detach().clone()
    binarize(net, dict(conv=dict(type='BinaryConv2d', scale='xnor')))
    assert type(net[0]) is nn.Conv2d and type(net[6]) is nn.Linear
    assert isinstance(net[2][0], BinaryConv2d) and isinstance(net[2][1], BinaryConv2d)
    assert type(net[5]) is nn.Linear  # linear layers only with cfg['linear']
    assert torch.equal(net[2][0].weight, w)
    assert net.binarized_layers == ['2.0', '2.1']
    net(torch.randn(2, 3, 8, 8))


def test_include_exclude_and_linear():
    net = binarize(_net(), dict(include=['2.*', '5'], exclude=['2.1'],
                                linear=dict(type='BinaryLinear', scale='none')))
    assert isinstance(net[2][0], BinaryConv2d) and type(net[2][1]) is nn.Conv2d
    assert isinstance(net[5], BinaryLinear) and type(net[6]) is nn.Linear
    net = binarize(_net(), dict(keep_first=False, keep_last=False,
                                linear=dict(type='BinaryLinear')))
    assert isinstance(net[0], BinaryConv2d) and isinstance(net[6], BinaryLinear)


def test_pattern_matching_nothing_is_an_error():
    with pytest.raises(ValueError, match="'backbone.*'.*matches no"):
        binarize(_net(), dict(include=['backbone.*']))
    with pytest.raises(KeyError, match='unknown cfg keys'):
        binarize(_net(), dict(includes=['2.*']))


def test_timm_resnet18():
    net = timm.create_model('resnet18', pretrained=False, num_classes=5)
    binarize(net, dict(conv=dict(type='BinaryConv2d', scale='learned')))
    assert type(net.conv1) is nn.Conv2d and type(net.fc) is nn.Linear
    assert isinstance(net.layer4[1].conv2, BinaryConv2d)
    assert len(net.binarized_layers) == 19
    net.eval()
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 5)


def test_mmpose_estimator():
    from mmpose.registry import MODELS
    model = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='ResNet', depth=18, base_channels=8, out_indices=(3, )),
        head=dict(type='HeatmapHead', in_channels=64, out_channels=3, deconv_out_channels=(8, ),
                  deconv_kernel_sizes=(4, ), loss=dict(type='KeypointMSELoss'))))
    binarize(model, dict(exclude=['head.*']))
    assert type(model.backbone.conv1) is nn.Conv2d
    assert isinstance(model.backbone.layer1[0].conv1, BinaryConv2d)
    assert type(model.head.final_layer) is nn.Conv2d
    model.eval()
    assert model(torch.randn(1, 3, 64, 64), None).shape == (1, 3, 4, 4)


def test_execution_order_for_first_and_last():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.out = nn.Conv2d(4, 2, 1)      # registered first, runs last
            self.mid = nn.Conv2d(4, 4, 3, padding=1)
            self.stem = nn.Conv2d(3, 4, 3, padding=1)  # registered last, runs first

        def forward(self, x):
            return self.out(self.mid(self.stem(x)))

    net = binarize(Net(), dict(input_shape=(1, 3, 8, 8)))
    assert net.binarized_layers == ['mid']
    assert type(net.stem) is nn.Conv2d and type(net.out) is nn.Conv2d
    assert binarize(Net(), dict()).binarized_layers == ['mid']  # registration: out, stem kept
