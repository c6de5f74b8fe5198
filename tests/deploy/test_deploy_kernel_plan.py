"""Kept kernel plans (plugins/deploy/kernel_plan.py: ``bnn_conv2d_plan`` / ``bnn_conv2d_run``):
a plan reused over many inputs, copied, pickled and rejected; the reference is the float
convolution of the sign tensors. (The plan's results over random geometries and every
epilogue option are checked in test_deploy_xnor_conv.py and test_deploy_epilogue.py.)"""
import copy
import ctypes
import pickle

import pytest
import torch
import torch.nn.functional as F

from plugins.deploy import PackedBinaryConv2d, best_isa, load_library
from plugins.deploy.kernel_plan import KernelPlan, conv_plan_args


def signs_of(t):
    return torch.where(torch.signbit(t), -1.0, 1.0)


def layer_and_plan(c=70, o=40, hw=6, threads=2, isa=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    signs = signs_of(torch.randn(o, c, 3, 3, generator=g))
    scale = torch.rand(o, generator=g) + 0.1
    layer = PackedBinaryConv2d.from_signs(signs, scale=scale, padding=1)
    wt, tp = layer._kernel_buffers()
    sc = layer.scale.reshape(-1).contiguous()
    plan = KernelPlan(**conv_plan_args(layer, (1, c, hw, hw), threads,
                                       best_isa() if isa is None else isa, wt, tp, sc, None,
                                       None, None))
    return layer, plan, signs, scale


def reference(x, signs, scale):
    return F.conv2d(signs_of(x), signs, padding=1) * scale.view(1, -1, 1, 1)


@pytest.mark.parametrize('threads', [1, 2])
def test_one_plan_many_inputs(threads):
    lib = load_library()
    lib.bnn_set_min_work_per_thread(ctypes.c_longlong(1 if threads > 1 else 0))
    try:
        _, plan, signs, scale = layer_and_plan(threads=threads)
        g = torch.Generator().manual_seed(1)
        for _ in range(5):
            x = torch.randn(1, 70, 6, 6, generator=g)
            x.view(-1)[::9] = -0.0
            out = torch.empty(plan.out_shape)
            assert plan.run(x.data_ptr(), None, out.data_ptr(), None, None) == 0
            assert torch.equal(out, reference(x, signs, scale))
    finally:
        lib.bnn_set_min_work_per_thread(ctypes.c_longlong(0))


def test_copied_and_pickled_plans_are_rebuilt_and_equal():
    layer, plan, signs, scale = layer_and_plan()
    x = torch.randn(1, 70, 6, 6)
    ref = reference(x, signs, scale)
    for other in (copy.deepcopy(plan), pickle.loads(pickle.dumps(plan))):
        assert other.handle.value != plan.handle.value
        out = torch.empty(other.out_shape)
        assert other.run(x.data_ptr(), None, out.data_ptr(), None, None) == 0
        assert torch.equal(out, ref)
    del plan  # frees the handle; the copies keep working
    out = torch.empty(other.out_shape)
    assert other.run(x.data_ptr(), None, out.data_ptr(), None, None) == 0
    assert torch.equal(out, ref)


def test_pointers_that_do_not_match_the_plan_are_rejected():
    _, plan, _, _ = layer_and_plan()
    x, out = torch.randn(1, 70, 6, 6), torch.empty(plan.out_shape)
    bits = torch.zeros(1, 6, 6, 1, dtype=torch.int64)
    assert plan.run(None, None, out.data_ptr(), None, None) == -9  # no input
    assert plan.run(x.data_ptr(), None, None, None, None) == -9  # no output
    assert plan.run(x.data_ptr(), None, out.data_ptr(), bits.data_ptr(), None) == -9
    assert plan.run(x.data_ptr(), None, out.data_ptr(), None, out.data_ptr()) == -9


def test_bad_arguments_raise():
    layer, plan, _, _ = layer_and_plan()
    args = dict(plan.args)
    with pytest.raises(ValueError, match='code -4'):
        KernelPlan(**{**args, 'isa': 7})
    with pytest.raises(ValueError, match='code -2'):
        KernelPlan(**{**args, 'pad_value': 3})
    with pytest.raises(ValueError, match='code -6'):
        KernelPlan(**{**args, 'out_ctotal': 10})
    with pytest.raises(TypeError, match='unknown plan arguments'):
        KernelPlan(**{**args, 'colour': 1})
    with pytest.raises(ValueError, match='contiguous CPU tensor'):
        KernelPlan(**{**args, 'scale': torch.rand(80)[::2]})


def test_a_run_model_copied_and_saved_keeps_its_values():
    """An exported binary ResNet-18 that ran (its layers and fused blocks hold kept plans) is
    deep-copied, its original deleted, then saved and loaded with torch.save: each copy gives
    the float binary model's output bit for bit (the plans are rebuilt from their copied
    arguments, none points into freed tensors)."""
    import gc
    import io

    import timm

    from plugins.deploy import export_binary
    torch.manual_seed(3)
    model = timm.create_model('binary_resnet18_channel', num_classes=10).eval()
    packed = export_binary(model)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        assert torch.equal(packed(x), ref)
        copied = copy.deepcopy(packed)
        del packed
        gc.collect()
        assert torch.equal(copied(x), ref)
        buf = io.BytesIO()
        torch.save(copied, buf)
        buf.seek(0)
        loaded = torch.load(buf, weights_only=False)
        assert torch.equal(loaded(x), ref)
