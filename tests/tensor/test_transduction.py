"""2-D -> 3-D transduction of CP convolutions."""
import pytest
import torch

import plugins  # noqa: F401
from plugins.tensor import CPConv2d, CPConv3d, TuckerConv2d, transduce_cp_conv


@pytest.mark.parametrize('implementation', ['factorized', 'reconstructed'])
def test_identical_frames_give_2d_output_times_temporal_sum(implementation):
    torch.manual_seed(0)
    conv2d = CPConv2d(3, 5, 3, padding=1, stride=2, rank=4, implementation=implementation)
    temporal = torch.tensor([0.5, -1.0, 2.0])
    conv3d = transduce_cp_conv(conv2d, kernel_t=3, temporal=temporal, padding_t=0)
    assert isinstance(conv3d, CPConv3d) and conv3d.kernel_size == (3, 3, 3)
    frame = torch.randn(2, 3, 9, 9)
    video = frame[:, :, None].expand(2, 3, 6, 9, 9)
    bias = conv2d.bias.view(1, -1, 1, 1)
    expected = (conv2d(frame) - bias) * temporal.sum() + bias
    out = conv3d(video)
    assert out.shape == (2, 5, 4, 5, 5)
    for t in range(out.shape[2]):
        torch.testing.assert_close(out[:, :, t], expected, atol=1e-5, rtol=1e-4)


def test_delta_init_is_framewise_2d_conv():
    torch.manual_seed(1)
    conv2d = CPConv2d(3, 4, 3, padding=1, rank=3)
    conv3d = transduce_cp_conv(conv2d, kernel_t=3)  # 'delta', same temporal padding
    video = torch.randn(1, 3, 4, 6, 6)
    out = conv3d(video)
    for t in range(4):
        torch.testing.assert_close(out[:, :, t], conv2d(video[:, :, t]), atol=1e-5, rtol=1e-4)


def test_bad_input():
    with pytest.raises(ValueError, match="unknown temporal init 'zeros'"):
        transduce_cp_conv(CPConv2d(2, 2, 3, rank=2), temporal='zeros')
    with pytest.raises(ValueError, match=r'temporal factor of shape \(2,\); allowed: \(3,\)'):
        transduce_cp_conv(CPConv2d(2, 2, 3, rank=2), temporal=torch.ones(2))
    with pytest.raises(ValueError, match='needs a 2-D CPConv, got TuckerConv2d'):
        transduce_cp_conv(TuckerConv2d(2, 2, 3, rank=2))
