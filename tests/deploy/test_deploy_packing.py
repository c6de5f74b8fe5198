"""Bit-packing of sign tensors (plugins/deploy/packing.py)."""
import numpy as np
import pytest
import torch

from plugins.deploy.packing import (kernel_layout, num_words, pack_signs, tap_popcounts,
                                    unpack_signs)


@pytest.mark.parametrize('shape', [(1, 1, 1, 1), (3, 5, 3, 3), (7, 64, 1, 1), (4, 65, 3, 3),
                                   (2, 7, 5, 2), (33, 128, 3, 3)])
def test_pack_unpack_round_trip(shape):
    torch.manual_seed(sum(shape))
    signs = torch.where(torch.rand(shape) > 0.5, 1.0, -1.0)
    words = pack_signs(signs)
    k = shape[1] * shape[2] * shape[3]
    assert words.dtype == torch.int64 and tuple(words.shape) == (shape[0], num_words(k))
    assert torch.equal(unpack_signs(words, shape), signs)


def test_bit_order_independent_of_numpy_packbits():
    # filter 0: only (c=1, kh=0, kw=1) positive; k = (kh*KW + kw)*Cg + c = (0*2 + 1)*3 + 1 = 4
    signs = -torch.ones(1, 3, 2, 2)
    signs[0, 1, 0, 1] = 1
    words = pack_signs(signs)
    assert words.shape == (1, 1) and int(words[0, 0]) == 1 << 4


def test_sign_bit_rule_and_unused_bits_zero():
    w = torch.tensor([0.0, -0.0, 2.0, -3.0]).view(1, 4, 1, 1)
    words = pack_signs(w)
    assert int(words[0, 0]) == 0b0101  # +0.0 -> +1, -0.0 -> -1 (sign bit), unused bits 0
    big = pack_signs(torch.ones(2, 65, 1, 1))
    assert int(big[0, 1]) == 1  # only bit 64 set in the second word


def test_unpack_rejects_wrong_shape():
    words = pack_signs(torch.ones(2, 3, 3, 3))
    with pytest.raises(ValueError, match='expected'):
        unpack_signs(words, (2, 8, 3, 3))


def test_kernel_layout_and_tap_popcounts():
    torch.manual_seed(0)
    signs = torch.where(torch.rand(40, 5, 3, 3) > 0.5, 1.0, -1.0)
    words = pack_signs(signs)
    wt = kernel_layout(words, groups=2)  # Og = 20 -> one block of 32 lanes per group
    assert tuple(wt.shape) == (2, 1, words.shape[1], 32)
    assert torch.equal(wt[1, 0, :, 3], words[23])
    assert (wt[:, :, :, 20:] == 0).all()
    tp = tap_popcounts(words, tuple(signs.shape))
    ref = (signs > 0).sum(1).reshape(40, 9)
    assert np.array_equal(tp.numpy(), ref.numpy())
