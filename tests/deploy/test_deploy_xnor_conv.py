"""The packed XNOR-popcount convolution against float convolutions of the signs."""
import ctypes
import random

import pytest
import torch
import torch.nn.functional as F

from plugins.deploy import PackedBinaryConv2d, best_isa, xnor_conv2d
from plugins.deploy.build import load_library
from plugins.deploy.kernel_plan import KernelPlan, conv_plan_args
from plugins.deploy.packed_conv import activation_factor

ISAS = list(range(best_isa() + 1))  # every code path this CPU can run (3 = AVX-512 VPOPCNTDQ)


@pytest.fixture(autouse=True)
def every_layer_uses_all_threads():
    """Small test layers would run on one thread (the kernel caps the threads by the work):
    make threads=2 really run two, so the parallel code paths are tested."""
    lib = load_library()
    lib.bnn_set_min_work_per_thread(ctypes.c_longlong(1))
    yield
    lib.bnn_set_min_work_per_thread(ctypes.c_longlong(0))


def test_work_per_thread_threshold_has_a_default_and_is_settable():
    lib = load_library()
    lib.bnn_set_min_work_per_thread(ctypes.c_longlong(0))
    lib.bnn_min_work_per_thread.restype = ctypes.c_longlong
    assert lib.bnn_min_work_per_thread() >= 1 << 16
    lib.bnn_set_min_work_per_thread(ctypes.c_longlong(12345))
    assert lib.bnn_min_work_per_thread() == 12345


def sign_bit(x):
    return torch.copysign(torch.ones(()), x)


def reference(x, signs, stride, padding, dilation, groups, pad_value):
    """conv of the padded signs, in float (exact: integer sums)."""
    xs = F.pad(sign_bit(x), (padding[1], padding[1], padding[0], padding[0]),
               value=float(pad_value))
    return F.conv2d(xs, signs, None, stride, 0, dilation, groups)


def random_case(rng):
    groups = rng.choice([1, 1, 2, 3])
    cg, og = rng.randint(1, 140), rng.randint(1, 70)
    kh, kw = rng.randint(1, 5), rng.randint(1, 5)
    dilation = (rng.randint(1, 2), rng.randint(1, 2))
    stride = (rng.randint(1, 3), rng.randint(1, 3))
    padding = (rng.randint(0, 2), rng.randint(0, 2))
    h = rng.randint(max(1, (kh - 1) * dilation[0] + 1 - 2 * padding[0]), 11)
    w = rng.randint(max(1, (kw - 1) * dilation[1] + 1 - 2 * padding[1]), 11)
    return groups, cg, og, (kh, kw), stride, padding, dilation, h, w


@pytest.mark.parametrize('seed', range(40))
def test_random_shapes_equal_reference_on_every_isa(seed):
    rng = random.Random(seed)
    groups, cg, og, k, stride, padding, dilation, h, w = random_case(rng)
    pad_value = [0, 1, -1][seed % 3]
    torch.manual_seed(seed)
    x = torch.randn(rng.randint(1, 2), cg * groups, h, w)
    x.view(-1)[::7] = -0.0  # sign bit set: -1, like plugins.binary's sign
    x.view(-1)[3::11] = 0.0
    signs = sign_bit(torch.randn(og * groups, cg, *k))
    layer = PackedBinaryConv2d.from_signs(signs,
                                          stride=stride,
                                          padding=padding,
                                          dilation=dilation,
                                          groups=groups,
                                          pad_value=pad_value)
    ref = reference(x, signs, stride, padding, dilation, groups, pad_value)
    wt, tp = layer._kernel_buffers()
    for isa in ISAS:
        for threads in (1, 2):
            y = xnor_conv2d(x,
                            wt,
                            tp,
                            og * groups,
                            k,
                            stride,
                            padding,
                            dilation,
                            groups,
                            pad_value,
                            isa=isa,
                            threads=threads)
            assert torch.equal(y, ref), (isa, threads)
            # the kept plan (bnn_conv2d_plan / bnn_conv2d_run): same reference
            plan = KernelPlan(**conv_plan_args(layer, tuple(x.shape), threads, isa, wt, tp,
                                               None, None, None, None))
            out = torch.full(plan.out_shape, 7.0)
            assert plan.run(x.data_ptr(), None, out.data_ptr(), None, None) == 0
            assert torch.equal(out, ref), ('plan', isa, threads)


@pytest.mark.parametrize('c,o,hw', [(256, 256, 9), (64, 96, 12), (300, 40, 5)])
def test_typical_shapes_3x3_zero_padding(c, o, hw):
    torch.manual_seed(c)
    x = torch.randn(1, c, hw, hw)
    signs = sign_bit(torch.randn(o, c, 3, 3))
    layer = PackedBinaryConv2d.from_signs(signs, padding=1)
    assert torch.equal(layer(x), reference(x, signs, (1, 1), (1, 1), (1, 1), 1, 0))


@pytest.mark.parametrize('kind', ['none', 'channel', 'spatial', 'act'])
@pytest.mark.parametrize('backend', ['kernel', 'torch'])
def test_scales_bias_and_act_scale(kind, backend):
    torch.manual_seed(1)
    x = torch.randn(2, 19, 8, 7)
    signs = sign_bit(torch.randn(12, 19, 3, 3))
    bias = torch.randn(12)
    scale = {
        'none': None,
        'channel': torch.rand(12, 1, 1),
        'spatial': torch.rand(12, 4, 4),
        'act': torch.rand(12, 1, 1)
    }[kind]
    layer = PackedBinaryConv2d.from_signs(signs,
                                          scale=scale,
                                          bias=bias,
                                          act_scale=kind == 'act',
                                          stride=2,
                                          padding=1,
                                          backend=backend)
    y = reference(x, signs, (2, 2), (1, 1), (1, 1), 1, 0)
    if scale is not None:
        y = y * scale
    if kind == 'act':
        a = x.abs().mean(1, keepdim=True)
        y = y * F.avg_pool2d(a, 3, 2, 1, count_include_pad=True)
        assert torch.allclose(activation_factor(x, 3, 2, 1, 1), F.avg_pool2d(a, 3, 2, 1))
    y = y + bias.view(1, -1, 1, 1)
    assert torch.allclose(layer(x), y, rtol=1e-6, atol=1e-5)


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match='pad_value'):
        PackedBinaryConv2d(4, 4, 3, pad_value=2)
    with pytest.raises(ValueError, match='divisible by groups'):
        PackedBinaryConv2d(5, 4, 3, groups=2)
    layer = PackedBinaryConv2d.from_signs(torch.ones(4, 4, 3, 3), scale=torch.ones(4, 2, 2))
    with pytest.raises(ValueError, match='spatial size'):
        layer(torch.randn(1, 4, 6, 6))
    with pytest.raises(ValueError, match='too small'):
        layer(torch.randn(1, 4, 2, 2))
    with pytest.raises(ValueError, match='5 channels does not fit'):
        layer(torch.randn(1, 5, 6, 6))


def test_double_and_channels_last_inputs_take_the_checked_path():
    torch.manual_seed(5)
    signs = sign_bit(torch.randn(6, 5, 3, 3))
    layer = PackedBinaryConv2d.from_signs(signs, scale=torch.rand(6), padding=1)
    x = torch.randn(1, 5, 6, 6)
    ref = layer(x)
    torch.testing.assert_close(layer(x.double()), ref)
    torch.testing.assert_close(layer(x.to(memory_format=torch.channels_last)), ref)


@pytest.mark.parametrize('pad_value', [0, 1, -1])
@pytest.mark.parametrize('cg,groups,stride,dilation', [(64, 1, 1, 1), (128, 2, 2, 1),
                                                       (64, 1, 1, 2)])
def test_word_aligned_channels_every_padding(pad_value, cg, groups, stride, dilation):
    torch.manual_seed(cg + pad_value)
    x = torch.randn(1, cg * groups, 7, 6)
    signs = sign_bit(torch.randn(40, cg, 3, 3))
    layer = PackedBinaryConv2d.from_signs(signs,
                                          stride=stride,
                                          padding=2,
                                          dilation=dilation,
                                          groups=groups,
                                          pad_value=pad_value)
    ref = reference(x, signs, (stride, stride), (2, 2), (dilation, dilation), groups, pad_value)
    wt, tp = layer._kernel_buffers()
    for isa in ISAS:
        y = xnor_conv2d(x, wt, tp, 40, (3, 3), stride, 2, dilation, groups, pad_value, isa=isa)
        assert torch.equal(y, ref), isa


def test_cached_call_plan_follows_buffer_edits_and_input_shapes():
    """The layer caches its foreign-call arguments; editing or replacing a buffer, or a new
    input shape, must be seen (reference: the torch backend on the same buffers)."""
    import torch
    from plugins.deploy import PackedBinaryConv2d, pack_signs
    torch.manual_seed(0)
    signs = torch.randn(8, 5, 3, 3).sign()
    layer = PackedBinaryConv2d.from_signs(signs, scale=torch.rand(8), padding=1)
    ref = PackedBinaryConv2d.from_signs(signs, scale=torch.rand(8), padding=1, backend='torch')
    x = torch.randn(1, 5, 6, 6)
    with torch.no_grad():
        layer(x)
        for edit in (lambda m: m.scale.mul_(3.0),                        # in place
                     lambda m: setattr(m, 'scale', torch.rand(8, 1, 1)),  # replaced
                     lambda m: m.weight_bits.copy_(pack_signs(-signs))):  # new bits
            edit(layer)
            ref.load_state_dict(layer.state_dict())
            assert torch.equal(layer(x), ref(x))
        y = torch.randn(2, 5, 4, 7)
        assert torch.equal(layer(y), ref(y))


def test_cached_call_plan_is_not_used_after_a_backend_switch():
    """A layer switched to the torch backend after kernel calls does not run its cached plan
    (the plan's foreign call is replaced by one that fails)."""
    import torch
    from plugins.deploy import PackedBinaryConv2d
    torch.manual_seed(0)
    layer = PackedBinaryConv2d.from_signs(torch.randn(8, 5, 3, 3).sign(), scale=torch.rand(8),
                                          padding=1)
    x = torch.randn(1, 5, 6, 6)
    with torch.no_grad():
        y = layer(x)
        plan = layer._plan(x, True)
        assert torch.equal(layer(x), y)  # (the cached plan)

        def fail(*args):
            raise AssertionError('the cached kernel plan ran')

        plan.run = fail
        layer.backend = 'torch'
        assert torch.equal(layer(x), y)  # the torch backend's values are the same
