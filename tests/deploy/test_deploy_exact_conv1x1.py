"""Real 1x1 convs of exported models in C++ (plugins/deploy/exact_conv1x1.py)."""
import pytest
import torch
from torch import nn

import plugins  # noqa: F401
from plugins.deploy.exact_conv1x1 import (ISAS, Conv1x1Norm, Order, candidate_orders, conv1x1,
                                          exact_conv1x1s, preact_block_forward,
                                          signed_zero_probe, usable_isa)
from plugins.deploy.norm_terms import _round_to_f32_exact, batchnorm_terms


def fma32(a, b, c):
    """float32 ``fma(a, b, c)`` computed exactly in float64 (the product is exact; TwoSum gives
    the sum's rounding error; one rounding to float32 at the end)."""
    prod, c = a.double() * b.double(), c.double()
    hi = prod + c
    virt = hi - prod
    lo = (prod - (hi - virt)) + (c - virt)
    return _round_to_f32_exact(hi, lo)


def reference(x, w, block, alpha=None, beta=None, bias=None, bias_last=False):
    """The kernel's documented order, emulated: per block a chain of float32 fused
    multiply-adds over the channels from +0 (the first block from the bias, unless bias_last),
    the blocks' sums added in order, the bias added if bias_last, then the BatchNorm's fma."""
    n, c, h, wd = x.shape
    xs = x.reshape(n, 1, c, h * wd)
    ws = w.reshape(1, -1, c, 1)
    tot = None
    for c0 in range(0, c, block):
        acc = torch.zeros(n, w.shape[0], h * wd)
        if c0 == 0 and bias is not None and not bias_last:
            acc += bias.view(1, -1, 1)
        for k in range(c0, min(c, c0 + block)):
            acc = fma32(ws[:, :, k].expand(n, -1, h * wd), xs[:, :, k].expand(n, w.shape[0], -1),
                        acc)
        tot = acc if tot is None else tot + acc
    if bias is not None and bias_last:
        tot = tot + bias.view(1, -1, 1)
    if alpha is not None:
        tot = fma32(tot, alpha.view(1, -1, 1).expand_as(tot), beta.view(1, -1, 1).expand_as(tot))
    return tot.reshape(n, -1, h, wd)


def random_bn(c, seed):
    g = torch.Generator().manual_seed(seed)
    bn = nn.BatchNorm2d(c).eval()
    with torch.no_grad():
        bn.running_mean.normal_(0, 1, generator=g)
        bn.running_var.uniform_(0.05, 3, generator=g)
        bn.weight.normal_(0, 1, generator=g)
        bn.bias.normal_(0, 1, generator=g)
    return bn


def bits(t):
    return t.contiguous().view(torch.int32)


# shapes with tails of every code path's tiles: output channels not a multiple of 4 or 8,
# positions not a multiple of 16 or 48, several images, blocks that do not divide C
@pytest.mark.parametrize('n,c,o,hw,block', [(1, 3, 6, 5, 3), (2, 17, 9, 7, 17), (1, 64, 128, 6, 64),
                                            (1, 40, 12, 9, 16), (2, 96, 8, 4, 32),
                                            (1, 256, 20, 11, 96), (2, 128, 27, 8, 80)])
@pytest.mark.parametrize('isa', sorted(ISAS))
@pytest.mark.parametrize('with_norm', [False, True])
@pytest.mark.parametrize('bias', [None, 'first', 'last'])
@pytest.mark.parametrize('threads', [1, 2])
def test_kernel_sums_in_the_documented_order(n, c, o, hw, block, isa, with_norm, bias, threads):
    g = torch.Generator().manual_seed(c * 31 + o)
    x = torch.randn(n, c, hw, hw, generator=g)
    w = torch.randn(o, c, 1, 1, generator=g) * 0.2
    b = torch.randn(o, generator=g) if bias else None
    alpha, beta = batchnorm_terms(random_bn(o, c)) if with_norm else (None, None)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        y = conv1x1(x, w, block, b, alpha, beta, bias_last=bias == 'last', isa=ISAS[isa])
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(bits(y), bits(reference(x, w, block, alpha, beta, b, bias == 'last')))


def test_code_paths_are_capped_by_the_cpu():
    """Each path runs what it names or a lower one; the scalar path always runs."""
    assert usable_isa(ISAS['scalar']) == 0
    for isa in ISAS.values():
        assert 0 <= usable_isa(isa) <= isa
    assert usable_isa(ISAS['avx2']) <= usable_isa(ISAS['avx512'])


def test_order_matters_so_the_test_can_fail():
    """Another block size gives other roundings: the reference separates orders."""
    g = torch.Generator().manual_seed(3)
    x, w = torch.randn(1, 96, 6, 6, generator=g), torch.randn(8, 96, 1, 1, generator=g)
    assert not torch.equal(bits(conv1x1(x, w, 32)), bits(reference(x, w, 96)))
    b = torch.randn(8, generator=g)  # and where the bias enters
    assert not torch.equal(bits(conv1x1(x, w, 96, b)), bits(reference(x, w, 96, bias=b,
                                                                      bias_last=True)))


def test_kernel_refuses_half_a_norm():
    x, w = torch.randn(1, 4, 3, 3), torch.randn(2, 4, 1, 1)
    with pytest.raises(ValueError, match='refused'):
        conv1x1(x, w, 4, None, torch.ones(2), None)


@pytest.mark.parametrize('c,o,hw', [(64, 128, 28), (128, 256, 14), (256, 512, 7), (3, 5, 11)])
def test_conv_norm_equals_torch_bit_for_bit(c, o, hw):
    conv, norm = nn.Conv2d(c, o, 1, bias=False), random_bn(o, o)
    op = Conv1x1Norm(conv, norm)
    g = torch.Generator().manual_seed(hw)
    with torch.no_grad():
        for _ in range(2):  # the first call decides, the second uses the decision
            x = torch.randn(1, c, hw, hw, generator=g)
            assert torch.equal(bits(op(x)), bits(norm(conv(x))))
        x = torch.zeros(1, c, hw, hw)  # signs of zero sums
        assert torch.equal(bits(op(x)), bits(norm(conv(x))))


def test_no_matching_order_keeps_torch():
    """A reference that no summation order reproduces: the pass decides for torch's modules."""

    class Shifted(Conv1x1Norm):
        def reference(self, x):
            return super().reference(x) + 1e-3

    op = Shifted(nn.Conv2d(8, 4, 1, bias=False))
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        y = op(x)
    assert op.decisions == {(1, 8, 5, 5, torch.get_num_threads()): None}
    assert torch.equal(y, op.conv(x) + 1e-3)


def test_norm_terms_follow_the_norm_buffers():
    conv, norm = nn.Conv2d(16, 8, 1, bias=False), random_bn(8, 1)
    op, x = Conv1x1Norm(conv, norm), torch.randn(1, 16, 6, 6)
    with torch.no_grad():
        op(x)
        norm.running_mean.add_(0.5)  # changed after the first call
        assert torch.equal(bits(op(x)), bits(norm(conv(x))))


def test_pass_rewrites_shortcut_sequentials_only_in_value_preserving_ways():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(32, 64, 1, bias=False), random_bn(64, 2)),
        nn.Sequential(nn.Conv2d(64, 16, 1, bias=False), nn.ReLU()),
        nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, bias=False), random_bn(16, 3))).eval()
    x = torch.randn(2, 32, 12, 12)
    with torch.no_grad():
        ref = model(x)
        assert exact_conv1x1s(model) == 2  # the 3x3 conv is not a 1x1 conv
        assert 'forward' in model[0].__dict__ and 'forward' in model[1].__dict__
        assert 'forward' not in model[2].__dict__
        assert torch.equal(bits(model(x)), bits(ref))
    model.train()  # a training-mode BatchNorm: torch's modules (batch statistics, autograd)
    y = model(x)
    assert y.requires_grad
    ref = x
    for inner in model:  # each Sequential's own forward, module by module
        ref = nn.Sequential.forward(inner, ref)
    assert torch.equal(y, ref)


def test_exported_resnet_shortcuts_run_in_cpp_and_equal_the_float_binary_model():
    import timm

    from plugins.deploy import export_binary
    binary = timm.create_model('binary_resnet18_channel', num_classes=10).eval()
    x = torch.randn(1, 3, 64, 64)
    packed = export_binary(binary)
    with torch.no_grad():
        ref, out = binary(x), packed(x)
    assert torch.equal(bits(out), bits(ref))
    assert all('forward' in getattr(packed, f'layer{i}')[0].downsample.__dict__ for i in (2, 3, 4))


# the binary hourglass's real 1x1 convs (c, o, hw, bias, norm): features (conv -> BN), the
# merge convs and the heatmap conv at 64x64, the stem's projection shortcut at 128x128
HOURGLASS_CONVS = [(256, 256, 64, False, True), (256, 256, 64, True, False),
                   (16, 256, 64, True, False), (256, 16, 64, True, False),
                   (64, 128, 128, False, False)]


def onednn_avx512() -> bool:
    return torch.backends.mkldnn.is_available() and \
        torch.backends.cpu.get_cpu_capability() == 'AVX512'


@pytest.mark.parametrize('c,o,hw,bias,with_norm', HOURGLASS_CONVS)
@pytest.mark.parametrize('threads', [1, 2])
def test_probe_takes_the_first_order_that_reproduces_torch(c, o, hw, bias, with_norm, threads):
    """On the hourglass's shapes: the pass equals torch's modules bit for bit; its decision is
    the first candidate order that gives torch's output on another input too (or torch's
    modules); on an AVX-512 CPU at 2 threads (oneDNN's jit_1x1:avx512_core) some candidate
    matches (docs/deploy.md)."""
    g = torch.Generator().manual_seed(c + o + hw)
    conv = nn.Conv2d(c, o, 1, bias=bias)
    norm = random_bn(o, hw) if with_norm else None
    with torch.no_grad():
        conv.weight.normal_(0, 0.1, generator=g)
        if bias:
            conv.bias.normal_(0, 1, generator=g)
    op, ref_mods = Conv1x1Norm(conv, norm), nn.Sequential(conv, *([norm] if norm else []))
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            x = torch.randn(1, c, hw, hw, generator=g)
            assert torch.equal(bits(op(x)), bits(ref_mods(x)))
            x2 = torch.randn(1, c, hw, hw, generator=g)
            ref2 = ref_mods(x2)
            assert torch.equal(bits(op(x2)), bits(ref2))
            alpha, beta = batchnorm_terms(norm) if norm else (None, None)
            matching = [order for order in candidate_orders(c, bias)
                        if torch.equal(bits(conv1x1(x2, conv.weight, order.block, conv.bias,
                                                    alpha, beta, order.bias_last)), bits(ref2))]
    finally:
        torch.set_num_threads(saved)
    decision = op.decisions[(1, c, hw, hw, threads)]
    assert decision is None or decision == matching[0]
    if threads == 2 and onednn_avx512():
        assert matching, 'no candidate order reproduces oneDNN here'


def test_orders_found_on_avx512_differ_from_one_chain():
    """The blocks of 96 channels at 64x64 are not one chain in disguise: the emulated orders
    differ, so the probe's choice between them matters."""
    g = torch.Generator().manual_seed(5)
    x, w = torch.randn(1, 256, 8, 8, generator=g), torch.randn(4, 256, 1, 1, generator=g)
    assert not torch.equal(bits(reference(x, w, 96)), bits(reference(x, w, 256)))
    assert Order(96) in candidate_orders(256, False) and Order(80) in candidate_orders(128, False)
    assert Order(112) in candidate_orders(256, False)  # oneDNN's cap at 32x32 (2 threads)


class PreActHead(nn.Module):
    """A pre-activation projection (BN -> ReLU -> 1x1 conv, plugins.pose's PreActConv) and a
    ModuleList of 1x1 convs with bias that the forward calls itself (the hourglass's heads)."""

    def __init__(self):
        super().__init__()
        from plugins.pose.layers import PreActConv
        self.proj = PreActConv(16, 32, 1)
        self.heads = nn.ModuleList([nn.Conv2d(32, 5, 1), nn.Conv2d(32, 32, 3, padding=1)])
        self.seq = nn.Sequential(nn.Conv2d(32, 8, 1, bias=False), random_bn(8, 7))

    def forward(self, x):
        y = self.proj(x)
        return self.heads[0](y), self.heads[1](y), self.seq(y)


def test_pass_runs_lone_convs_outside_sequentials():
    import copy
    import pickle
    torch.manual_seed(1)
    model = PreActHead().eval()
    with torch.no_grad():
        model.proj.norm.running_mean.normal_()
        model.proj.norm.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 16, 10, 10)
    with torch.no_grad():
        ref = model(x)
        assert exact_conv1x1s(model) == 3  # proj, heads[0], seq's pair; not the 3x3 conv
        own = model.proj.__dict__['forward']  # the block's BN -> ReLU -> conv in one pass
        assert own.func is preact_block_forward and own.args[2].span == 3
        assert 'forward' not in model.proj.conv.__dict__
        assert isinstance(model.heads[0].__dict__['forward'], Conv1x1Norm)
        assert 'forward' not in model.heads[1].__dict__  # a 3x3 conv
        assert 'forward' not in model.seq[0].__dict__  # run by its Sequential's forward
        assert 'forward' in model.seq.__dict__
        assert exact_conv1x1s(model) == 0  # nothing twice
        for again in (model, copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
            out = again(x)
            assert all(torch.equal(bits(a), bits(b)) for a, b in zip(out, ref))
        assert model.proj.forward.args[2].decisions  # the pass decided (for C++ or torch)
    model.train()  # training: torch's modules, with gradients
    out = model(x)
    out[0].sum().backward()
    assert model.proj.conv.weight.grad is not None and model.heads[0].bias.grad is not None


def test_exported_hourglass_runs_its_real_1x1_convs_through_the_pass(tmp_path):
    from mmpose.registry import MODELS

    from plugins.deploy import export_binary, load_packed, save_packed
    torch.manual_seed(3)
    cfg = dict(type='StackedHourglass', _scope_='mmpose', num_stacks=2, depth=2, channels=32,
               out_channels=5, stem_channels=(16, 32),
               block=dict(type='HPMBlock', act_cfg=None,
                          conv_cfg=dict(type='BinaryConv2d', scale='learned')))
    model = MODELS.build(cfg).eval()
    packed = export_binary(model)
    lone = sorted(n for n, m in packed.named_modules()
                  if isinstance(m.__dict__.get('forward'), Conv1x1Norm))
    assert lone == ['heatmaps.0', 'heatmaps.1', 'merge_features.0', 'merge_heatmaps.0']
    preact = sorted(n for n, m in packed.named_modules()
                    if getattr(m.__dict__.get('forward'), 'func', None) is preact_block_forward)
    assert preact == ['stem.1.shortcut.path']  # BN -> ReLU -> conv in one pass
    seqs = [op.span for i in range(2)
            for op in packed.features[i][1].__dict__['forward'].args[1].values()]
    assert seqs == [3, 3]  # conv -> BN -> ReLU in one pass
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = packed(x)
        save_packed(packed, tmp_path / 'hg.bnn')
        loaded = load_packed(tmp_path / 'hg.bnn', model=MODELS.build(cfg))
        assert isinstance(loaded.heatmaps[0].__dict__.get('forward'), Conv1x1Norm)
        again = loaded(x)
        for name in lone + preact + ['features.0.1', 'features.1.1']:  # torch's modules again
            del packed.get_submodule(name).__dict__['forward']
        plain = packed(x)
    for a, b, c in zip(out, again, plain):
        assert torch.equal(bits(a), bits(c)) and torch.equal(bits(b), bits(c))


# ---- the elementwise modules around the conv, fused (pre-activation BN -> ReLU, BN -> ReLU)


def signed_zero_bn(c, seed):
    """A random BatchNorm whose even channels have mean 0 and bias -0.0 (beta = -0.0: an input
    -0.0 gives -0.0) or +0.0 (odd channels of the first half), the others random."""
    bn = random_bn(c, seed)
    with torch.no_grad():
        bn.weight.abs_()
        bn.running_mean[:c // 2] = 0.0
        bn.bias[0:c // 2:2] = -0.0
        bn.bias[1:c // 2:2] = 0.0
    return bn


def special_input(n, c, hw, g):
    """Random values with columns of +0, -0, a NaN (channel 0 only) and inf/-inf."""
    x = torch.randn(n, c, hw * hw, generator=g)
    x[:, :, 0], x[:, :, 1] = 0.0, -0.0
    x[:, 0, 2] = float('nan')
    x[:, 1, 3], x[:, 2, 4 % (hw * hw)] = float('inf'), float('-inf')
    return x.reshape(n, c, hw, hw)


# (pre_norm, pre_relu, norm, relu)
FUSED_FORMS = [(True, True, False, False), (True, False, False, False),
               (False, True, False, False), (False, False, True, True),
               (False, False, False, True), (True, True, True, True)]


@pytest.mark.parametrize('n,c,o,hw,block', [(1, 3, 6, 5, 3), (2, 17, 9, 7, 17),
                                            (1, 40, 12, 9, 16), (1, 256, 20, 11, 96)])
@pytest.mark.parametrize('isa', sorted(ISAS))
@pytest.mark.parametrize('form', FUSED_FORMS)
@pytest.mark.parametrize('bias', [None, 'first'])
@pytest.mark.parametrize('threads', [1, 2])
def test_kernel_fused_activations_equal_torch_modules(n, c, o, hw, block, isa, form, bias,
                                                      threads):
    """The kernel with BN / ReLU fused equals the kernel's bare conv (checked against the
    emulated order above) with torch's BatchNorm and ReLU modules around it, bit for bit:
    signed zeros (a -0.0 bias, BatchNorms with beta = -0.0, all-positive weight rows), NaN
    and infinities included."""
    pre_norm, pre_relu, norm, relu = form
    g = torch.Generator().manual_seed(c * 7 + o)
    x = special_input(n, c, hw, g)
    w = torch.randn(o, c, 1, 1, generator=g) * 0.2
    w[0::3] = w[0::3].abs()  # rows whose zero inputs give -0 products from a -0 chain start
    b = torch.full((o, ), -0.0) if bias else None
    if b is not None:
        b[o // 2:] = torch.randn(o - o // 2, generator=g)
    pre_bn = signed_zero_bn(c, c) if pre_norm else None
    bn = signed_zero_bn(o, o) if norm else None
    pa, pb = batchnorm_terms(pre_bn) if pre_bn else (None, None)
    alpha, beta = batchnorm_terms(bn) if bn else (None, None)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        y = conv1x1(x, w, block, b, alpha, beta, isa=ISAS[isa], relu=relu, pre_alpha=pa,
                    pre_beta=pb, pre_relu=pre_relu)
        with torch.no_grad():  # torch's modules for the elementwise steps
            a = pre_bn(x) if pre_bn else x
            a = nn.ReLU()(a) if pre_relu else a
            ref = conv1x1(a.contiguous(), w, block, b, alpha, beta, isa=ISAS[isa])
            ref = nn.ReLU(inplace=True)(ref) if relu else ref
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(bits(y), bits(ref))


def test_relu_keeps_torchs_signed_zeros_so_the_test_can_fail():
    """The kernel's output ReLU passes -0.0 as torch's does (-0 inputs, positive weights and a
    -0 bias give -0 sums; max(v, +0) with +0 first would give +0)."""
    x = torch.full((1, 4, 2, 2), -0.0)
    w = torch.ones(3, 4, 1, 1)
    b = torch.full((3, ), -0.0)
    for isa in ISAS.values():
        assert (bits(conv1x1(x, w, 4, b, isa=isa)) == bits(torch.tensor(-0.0))).all()
        y = conv1x1(x, w, 4, b, relu=True, isa=isa)
        assert torch.equal(bits(y), bits(torch.relu(torch.full((1, 3, 2, 2), -0.0))))
        assert (bits(y) == bits(torch.tensor(-0.0))).all()
    n = conv1x1(torch.full((1, 4, 1, 1), float('nan')), w, 4, relu=True)
    assert torch.isnan(n).all()


def test_kernel_refuses_half_a_pre_norm():
    x, w = torch.randn(1, 4, 3, 3), torch.randn(2, 4, 1, 1)
    with pytest.raises(ValueError, match='refused'):
        conv1x1(x, w, 4, pre_alpha=torch.ones(4))


def hourglass_fused_op(kind, g):
    """The hourglass's fused forms: ``pre`` the stem projections (BN -> ReLU -> conv), ``post``
    the features layer (conv -> BN -> ReLU)."""
    if kind[0] == 'pre':
        c, o = kind[1], kind[2]
        conv, pre_norm = nn.Conv2d(c, o, 1, bias=False), random_bn(c, c)
        with torch.no_grad():
            conv.weight.normal_(0, 0.1, generator=g)
        return Conv1x1Norm(conv, pre_norm=pre_norm, pre_relu=nn.ReLU())
    conv = nn.Conv2d(kind[1], kind[2], 1, bias=False)
    with torch.no_grad():
        conv.weight.normal_(0, 0.1, generator=g)
    return Conv1x1Norm(conv, random_bn(kind[2], 5), nn.ReLU(inplace=True))


@pytest.mark.parametrize('kind', [('pre', 64, 128, 128), ('pre', 128, 256, 64),
                                  ('post', 256, 256, 64), ('pre', 20, 12, 9)])
@pytest.mark.parametrize('threads', [1, 2])
def test_fused_forms_equal_torch_modules(kind, threads):
    """On the hourglass's fused shapes: the pass equals torch's modules (BN, ReLU, conv)
    bit for bit, on random inputs and on signed zeros; the decision is the first candidate
    order that reproduces torch on an independent input (or torch's modules)."""
    g = torch.Generator().manual_seed(sum(kind[1:]))
    op = hourglass_fused_op(kind, g)
    c, hw = kind[1], kind[3]
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            for x in (torch.randn(1, c, hw, hw, generator=g), special_input(1, c, hw, g)):
                ref = op.reference(x)  # torch's modules
                assert torch.equal(bits(op(x)), bits(ref))
            alpha, beta = op._terms()
            pa, pb = op._pre_terms()
            matching = [order for order in candidate_orders(c, False)
                        if torch.equal(bits(conv1x1(x, op.conv.weight, order.block, None, alpha,
                                                    beta, relu=op.relu is not None,
                                                    pre_alpha=pa, pre_beta=pb,
                                                    pre_relu=op.pre_relu is not None)),
                                       bits(ref))]
    finally:
        torch.set_num_threads(saved)
    decision = op.decisions[(1, c, hw, hw, threads)]
    assert decision is None or decision == matching[0]
    if threads == 2 and onednn_avx512() and hw >= 64:
        assert matching, 'no candidate order reproduces torch here'
        assert decision is not None, 'the fused pass is not used on the hourglass shape'


class PlusZeroReLU(nn.ReLU):
    """A ReLU that turns -0.0 into +0.0 (unlike torch's): a form the kernel does not compute."""

    def forward(self, x):
        return super().forward(x) + 0.0


def test_probe_rejects_an_order_that_only_signed_zeros_tell_apart():
    """A pre-activation whose ReLU differs from the kernel's on -0.0 only, and a conv whose
    -0.0 bias starts the chain: with the bias first the random input and zeros agree, the
    signed-zero probe does not, so the pass does not take that order (with the bias last the
    chain starts from +0 and no input tells the ReLUs apart)."""
    torch.manual_seed(4)
    c, o = 8, 4
    conv = nn.Conv2d(c, o, 1, bias=True)
    pre_norm = signed_zero_bn(c, 1)
    with torch.no_grad():
        conv.weight.abs_()  # all products of -0 inputs are -0: the chain from -0 stays -0
        conv.bias.fill_(-0.0)
        pre_norm.running_mean.zero_()
        pre_norm.bias.fill_(-0.0)  # beta = -0: an input of -0 stays -0 after the BN
    op = Conv1x1Norm(conv, pre_norm=pre_norm, pre_relu=PlusZeroReLU())
    x = torch.randn(1, c, 6, 6)
    with torch.no_grad():
        probes = op._probes(tuple(x.shape))
        assert len(probes) == 3
        pa, pb = op._pre_terms()
        first = [conv1x1(p, conv.weight, c, conv.bias, pre_alpha=pa, pre_beta=pb, pre_relu=True)
                 for p in probes]
        same = [torch.equal(bits(f), bits(op.reference(p))) for f, p in zip(first, probes)]
        assert same == [True, True, False]  # only the signed zeros tell
        op(x)
        decision = op.decisions[(1, c, 6, 6, torch.get_num_threads())]
        assert decision != Order(c, False)
        assert torch.equal(bits(op(probes[2])), bits(op.reference(probes[2])))


@pytest.mark.parametrize('form', FUSED_FORMS)
def test_fused_form_without_a_matching_order_keeps_torch(form):
    """A fused form whose reference no summation order reproduces: torch's modules run."""
    pre_norm, pre_relu, norm, relu = form

    class Shifted(Conv1x1Norm):
        def reference(self, x):
            return super().reference(x) + 1e-3

    op = Shifted(nn.Conv2d(8, 4, 1, bias=False), random_bn(4, 1) if norm else None,
                 nn.ReLU() if relu else None, random_bn(8, 2) if pre_norm else None,
                 nn.ReLU() if pre_relu else None)
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        y = op(x)
        assert op.decisions == {(1, 8, 5, 5, torch.get_num_threads()): None}
        assert torch.equal(bits(y), bits(Conv1x1Norm.reference(op, x) + 1e-3))


def test_signed_zero_probe_hits_the_norm_root():
    g = torch.Generator().manual_seed(0)
    bn = signed_zero_bn(6, 2)
    alpha, beta = batchnorm_terms(bn)
    x = signed_zero_probe((1, 6, 4, 4), torch.stack([alpha, beta]), g)
    with torch.no_grad():
        y = bn(x).reshape(1, 6, 16)
    assert (bits(x.reshape(1, 6, 16)[:, :, 1]) == bits(torch.tensor(-0.0))).all()
    assert (bits(y[:, 0, 1]) == bits(torch.tensor(-0.0))).all()  # beta = -0: -0 stays -0
    assert (y[:, :, 2].abs() < 1e-5).all()  # the BN's root: zero or tiny


def test_pass_fuses_the_longest_elementwise_runs_in_sequentials():
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Sequential(random_bn(8, 1), nn.ReLU(), nn.Conv2d(8, 16, 1, bias=False),
                      random_bn(16, 2), nn.ReLU(inplace=True)),
        nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(16, 8, 1), nn.ReLU()),
        nn.Sequential(random_bn(8, 3), nn.Conv2d(8, 4, 1, bias=False), nn.Sigmoid())).eval()
    x = torch.randn(2, 8, 7, 7)
    with torch.no_grad():
        ref = model(x.clone())
        assert exact_conv1x1s(model) == 3
        spans = [{i: op.span for i, op in seq.__dict__['forward'].args[1].items()}
                 for seq in model]
        # all five; an in-place ReLU without a BN before it is not fused (it would change the
        # caller's input); a Sigmoid is not
        assert spans == [{0: 5}, {1: 2}, {0: 2}]
        xin = x.clone()
        assert torch.equal(bits(model(xin)), bits(ref)) and torch.equal(xin, x)
        assert exact_conv1x1s(model) == 0
