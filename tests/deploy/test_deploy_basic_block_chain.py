"""Packed Bi-Real basic blocks (plugins/deploy/basic_block_chain.py): two kernel calls per
ResNet block with the BatchNorm, the residual and the activation in the kernel's epilogue,
against the float binary model in eval mode (bit for bit)."""
import random
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

import plugins  # noqa: F401
import plugins.deploy.basic_block_chain as bbc
import plugins.deploy.pool_first as pf
from plugins.binary.activations import LearnableSlope
from plugins.cls.resnets import BasicBlock
from plugins.deploy import ExportReport, export_binary
from plugins.deploy.chain import unchain_blocks

BINARY = dict(type='BinaryConv2d', scale='learned', scale_shape='channel')



def trained_like(model: nn.Module, seed: int) -> nn.Module:
    """Random BatchNorm statistics (negative and tiny gammas too), slopes and scales, as after
    training; eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-20, 20, generator=g)
                m.running_var.uniform_(0.05, 300, generator=g)
                m.weight.uniform_(-1.5, 1.5, generator=g)
                m.weight[::7] = 0.0  # a constant channel
                m.bias.uniform_(-1, 1, generator=g)
            if isinstance(m, nn.PReLU):
                m.weight.uniform_(-0.5, 1.5, generator=g)
            if isinstance(m, LearnableSlope):
                m.pos.uniform_(-1, 2, generator=g)
                m.neg.uniform_(-1, 2, generator=g)
            for name, p in m.named_parameters(recurse=False):
                if 'scale' in name:
                    p.uniform_(0.01, 2, generator=g)
    return model.eval()


def random_block(rng: random.Random) -> BasicBlock:
    cin = rng.choice([32, 64, 96, 40, 130])
    stride = rng.choice([1, 2])
    cout = rng.choice([cin, cin, 32, 96, 72]) if stride == 1 else rng.choice([64, 96, 2 * cin])
    conv = dict(BINARY, scale=rng.choice(['learned', 'none', 'xnor']))
    if conv['scale'] != 'learned':
        conv.pop('scale_shape')
    act = rng.choice([dict(type='PReLU'), None, 'slope'])
    block = BasicBlock(cin, cout, stride, conv_cfg=conv,
                       act_cfg=None if act in (None, 'slope') else act, skip='conv',
                       shortcut=rng.choice(['avgpool', 'conv']))
    if act == 'slope':
        block.act1, block.act2 = LearnableSlope(cout), LearnableSlope(cout)
    return trained_like(block, rng.randint(0, 10**6))


def round_f32(q: Fraction) -> np.float32:
    """The float32 nearest to the exact rational ``q`` (ties to even)."""
    f = np.float32(float(q))
    cands = [f, np.nextafter(f, np.float32(np.inf)), np.nextafter(f, np.float32(-np.inf))]
    best = min(abs(Fraction(float(c)) - q) for c in cands)
    near = [c for c in cands if abs(Fraction(float(c)) - q) == best]
    return min(near, key=lambda c: int(np.array(c).view(np.int32)) & 1)


def test_post_norm_terms_round_like_torch_batchnorm():
    """alpha and beta, and ``x * alpha + beta`` rounded once, give torch's eval BatchNorm bit
    for bit (exact rationals, not float formulas, as the reference)."""
    torch.manual_seed(0)
    norm = trained_like(nn.BatchNorm2d(96), 3)
    alpha, beta = bbc.post_norm_terms(norm)
    var = norm.running_var.numpy().astype(np.float32)
    inv = np.float32(1) / np.sqrt(var + np.float32(norm.eps))  # IEEE ops, one rounding each
    assert np.array_equal(alpha.numpy(), inv * norm.weight.detach().numpy())
    for c in range(96):
        exact = Fraction(float(norm.bias[c])) - Fraction(float(norm.running_mean[c])) * \
            Fraction(float(alpha[c]))
        assert beta[c].item() == float(round_f32(exact)), c
    x = torch.randn(1, 96, 5, 5) * 30
    ref = norm(x)
    for c in range(96):
        for v, r in zip(x[0, c].flatten().tolist(), ref[0, c].flatten().tolist()):
            q = Fraction(v) * Fraction(float(alpha[c])) + Fraction(float(beta[c]))
            assert r == float(round_f32(q)), (c, v)


def test_kernel_post_norm_rounds_like_torch():
    """Minimal reproducer of the kernel's order-1 epilogue against torch: one 3x3 binary conv
    with its BatchNorm after it (``post_alpha``/``post_beta``), nothing else. torch's
    vectorised BatchNorm computes ``x * alpha + beta`` with one rounding (a fused multiply-add);
    a kernel that rounds the product and the sum separately differs in ~1/3 of the values by an
    ulp."""
    from plugins.deploy import PackedBinaryConv2d
    g = torch.Generator().manual_seed(1)
    conv = PackedBinaryConv2d.from_signs(torch.randint(0, 2, (64, 64, 3, 3), generator=g) * 2.
                                         - 1, scale=torch.rand(64, generator=g) + .01, padding=1)
    norm = trained_like(nn.BatchNorm2d(64), 1)
    x = torch.randn(1, 64, 8, 8, generator=g)
    step = bbc._step(conv, norm, nn.Identity())
    zeros = torch.zeros(1, 64, 8, 8)
    out, _ = bbc._run_step(bbc._step_plan(step, tuple(x.shape), False, None, False, 1), x, None,
                           zeros)
    conv.backend = 'torch'
    with torch.no_grad():
        ref = norm(conv(x)) + zeros
    differ = (out != ref).sum().item()
    assert differ == 0, f'{differ} of {ref.numel()} values differ from torch (largest ' \
        f'{(out - ref).abs().max().item():.3g})'
    assert bbc.kernel_rounds_like_torch()


@pytest.mark.parametrize('seed', range(10))
def test_random_bireal_blocks_fused_are_bit_identical(seed, two_threads_everywhere):
    rng = random.Random(seed)
    block = random_block(rng)
    x = torch.randn(rng.randint(1, 3), block.conv1.in_channels, rng.randint(3, 17),
                    rng.randint(3, 17)) * 2
    x.view(-1)[::11] = 0.0
    x.view(-1)[5::11] = -0.0
    packed = export_binary(block, chain=False)
    assert bbc.basic_block_parts(packed) is not None
    with torch.no_grad():
        ref = block(x)
        fused = bbc._fused(packed, x)
    assert fused is not None and fused[1] is None
    differ = (fused[0] != ref).sum().item()
    assert differ == 0, f'{differ} of {ref.numel()} values differ, largest ' \
        f'{(fused[0] - ref).abs().max().item():.3g}'
    assert torch.equal(torch.signbit(fused[0]), torch.signbit(ref))


def test_blocks_that_do_not_fit_keep_their_forward():
    rng = random.Random(5)
    block = random_block(rng)
    cases = {
        'skip=block': lambda b: setattr(b, 'skip', 'block'),
        'ReLU (+0 where the kernel gives -0)': lambda b: setattr(b, 'act1', nn.ReLU()),
        'norm in training mode': lambda b: b.bn2.train(),
        'LearnableSlope with shifts': lambda b: setattr(b, 'act2', LearnableSlope(
            b.conv2.out_channels, bias=True)),
    }
    x = torch.randn(2, block.conv1.in_channels, 9, 9)
    for why, edit in cases.items():
        packed = export_binary(block, chain=False)
        edit(packed)
        assert bbc.basic_block_parts(packed) is None, why
        assert bbc.chain_basic_blocks(packed) == [], why
        with torch.no_grad():
            assert torch.equal(bbc.fused_basic_block_forward(packed, x),
                               type(packed).forward(packed, x)), why
    chw = BasicBlock(16, 16, conv_cfg=dict(BINARY, scale_shape='chw'), act_cfg=None,
                     skip='conv').eval()
    chw(torch.randn(1, 16, 6, 6))  # resolves the spatial scale
    assert bbc.basic_block_parts(export_binary(chw, chain=False)) is None
    k = BasicBlock(16, 16, conv_cfg=dict(BINARY, act_scale=True), act_cfg=None, skip='conv')
    assert bbc.basic_block_parts(export_binary(k.eval(), chain=False)) is None  # reads |x|
    packed = export_binary(block, chain=False)
    assert bbc._fused(packed, x.double()) is None  # float64 input: the block's own forward


def test_plan_follows_edited_statistics():
    """The cached call plan is rebuilt when a norm's statistics change in place, a buffer is
    replaced, or a module is replaced."""
    block = random_block(random.Random(2))
    packed = export_binary(block, chain=False)
    x = torch.randn(1, block.conv1.in_channels, 8, 8)
    first = bbc.basic_block_parts(packed)
    with torch.no_grad():
        packed.bn2.running_mean.add_(1.0)
        block.bn2.running_mean.add_(1.0)
    assert bbc.basic_block_parts(packed) is not first
    with torch.no_grad():
        assert torch.equal(bbc._fused(packed, x)[0], block(x))
        var = torch.rand_like(block.bn1.running_var) + 0.5
        block.bn1.running_var = var  # a replaced buffer (not edited in place)
        packed.bn1.running_var = var.clone()
        assert torch.equal(bbc._fused(packed, x)[0], block(x))
    packed.act2 = nn.ReLU()  # a replaced module that does not fit
    assert bbc.basic_block_parts(packed) is None and bbc._fused(packed, x) is None


def test_stage_passes_sign_bits_between_blocks(monkeypatch):
    """In a stage (nn.Sequential) the first conv of blocks 2.. reads the bits packed by the
    previous block's epilogue instead of packing its float input."""
    torch.manual_seed(3)
    stage = nn.Sequential(BasicBlock(32, 64, 2, conv_cfg=BINARY, act_cfg=dict(type='PReLU'),
                                     skip='conv', shortcut='avgpool'),
                          BasicBlock(64, 64, conv_cfg=BINARY, act_cfg=dict(type='PReLU'),
                                     skip='conv'),
                          BasicBlock(64, 64, conv_cfg=BINARY, act_cfg=None, skip='conv'))
    trained_like(stage, 4)
    packed = export_binary(stage, chain=False)
    names = bbc.chain_basic_layers(packed)
    assert names == ['0', '1', '2', '']
    float_inputs = []
    run = bbc._run_step

    def spy(plan, x, xbits, *args):
        float_inputs.append(xbits is None)  # the kernel reads x only without bits
        return run(plan, x, xbits, *args)

    monkeypatch.setattr(bbc, '_run_step', spy)
    x = torch.randn(2, 32, 13, 11)
    with torch.no_grad():
        assert torch.equal(packed(x), stage(x))
    # block 1 conv1 packs x; every other conv reads packed bits
    assert float_inputs == [True, False, False, False, False, False]
    unchain_blocks(packed)
    float_inputs.clear()
    with torch.no_grad():
        assert torch.equal(packed(x), stage(x))
    assert float_inputs == []


def test_exported_binary_resnet18_fused_is_bit_identical():
    import timm
    torch.manual_seed(7)
    model = trained_like(timm.create_model('binary_resnet18_channel', num_classes=10), 8)
    report = ExportReport()
    fused = export_binary(model, report=report)
    unfused = export_binary(model, chain=False)
    blocks = [f'layer{i}.{j}' for i in range(1, 5) for j in range(2)]
    assert set(blocks) == set(report.chained)
    # the stages pass sign bits between their blocks (chain_basic_sequentials)
    assert all('forward' in getattr(fused, f'layer{i}').__dict__ for i in range(1, 5))
    x = torch.randn(2, 3, 80, 72)
    with torch.no_grad():
        ref = model(x)
        assert torch.equal(unfused(x), ref)
        assert torch.equal(fused(x), ref)


def test_loaded_packed_resnet18_runs_its_bi_real_blocks_fused(tmp_path):
    import timm
    from plugins.deploy import load_packed, save_packed
    from plugins.deploy.basic_block_chain import BASIC_BLOCKS
    torch.manual_seed(8)
    make = lambda: timm.create_model('binary_resnet18_channel', num_classes=10)  # noqa: E731
    model = trained_like(make(), 9)
    save_packed(export_binary(model), tmp_path / 'r18.bnn')
    loaded = load_packed(tmp_path / 'r18.bnn', model=make())
    fused = [n for n, m in loaded.named_modules()
             if type(m) in BASIC_BLOCKS and 'forward' in m.__dict__]
    assert fused == [f'layer{i}.{j}' for i in range(1, 5) for j in range(2)]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def awkward(shape, seed):
    """Values with many ties, signed zeros, infinities and a few NaNs."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-2, 3, shape, generator=g).float()
    zero = x == 0
    x[zero] = torch.where(torch.rand(int(zero.sum()), generator=g) < 0.5, -0.0, 0.0)
    r = torch.rand(shape, generator=g)
    x[r < 0.01] = float('nan')
    x[(r > 0.01) & (r < 0.02)] = float('inf')
    x[(r > 0.02) & (r < 0.03)] = -float('inf')
    return x


@pytest.mark.parametrize('shape', [(1, 64, 56, 56), (2, 5, 14, 8), (1, 3, 2, 2)])
def test_shortcut_avg_pool_views_are_the_same_tensor(shape):
    """The Bi-Real shortcut's 2x2 average pool as sums of strided views (the exported model's
    pooling, plugins/deploy/pooling.py), bit for bit: signed zeros, infinities, NaN."""
    from plugins.deploy.pooling import ViewsAvgPool2d
    pool = nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)
    fast = ViewsAvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)
    neg_zeros = torch.full(shape, -0.0)
    for x in (awkward(shape, 1), torch.randn(shape) * 1e30, neg_zeros):
        ref = pool(x)
        with torch.no_grad():
            y = fast(x)
        assert torch.equal(y.isnan(), ref.isnan())
        assert torch.equal(torch.signbit(y[~y.isnan()]), torch.signbit(ref[~ref.isnan()]))
        assert torch.equal(y.nan_to_num(), ref.nan_to_num())
    odd = torch.randn(1, 2, 5, 4)  # odd size: torch's own pool (ceil_mode window of 1 row)
    assert torch.equal(fast(odd), pool(odd))


@pytest.mark.parametrize('seed', range(4))
def test_stem_norm_and_activation_after_the_max_pool_are_the_same_tensor(seed, monkeypatch):
    """conv -> BN -> PReLU -> max-pool run as conv -> max-pool -> BN -> PReLU (exported and
    float models' pooling): bit for bit where every alpha and slope is positive (then it is
    used), and where some are not (then the original order runs)."""
    from plugins.deploy.pool_first import PoolFirstSequential, pool_first
    g = torch.Generator().manual_seed(seed)
    stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                         nn.PReLU(16), nn.MaxPool2d(3, 2, 1)).eval()
    with torch.no_grad():
        bn = stem[1]
        bn.running_mean.uniform_(-1, 1, generator=g)
        bn.running_var.uniform_(0.01, 4, generator=g)
        bn.weight.uniform_(0.01, 2, generator=g)
        bn.bias.uniform_(-1, 1, generator=g)
        stem[2].weight.uniform_(0.01, 1, generator=g)
        if seed == 1:  # -0.0 bias and zero mean: the norm maps +0 / -0 to +0 / -0
            bn.bias[:8] = -0.0
            bn.running_mean[:8] = 0.0
        if seed == 2:
            bn.weight[3] = -0.5  # decreasing channel: not reordered
        if seed == 3:
            stem[2].weight[5] = 0.0  # flat slope: not reordered
    x = torch.randn(2, 3, 31, 29, generator=g)
    x[:, :, ::3] = 0.0  # zero rows: conv outputs of exactly +0 / -0
    x[:, :, 1::3, ::2] = -0.0
    fast = nn.Sequential(*stem)  # shares the modules
    assert pool_first(fast) == [''] and isinstance(fast, PoolFirstSequential)
    calls, fused = [], []
    stem[1].register_forward_pre_hook(lambda m, inp: calls.append(inp[0].shape[2]))
    kernel_norm_act = pf._kernel_norm_act

    def spy(p, terms):
        res = kernel_norm_act(p, terms)
        fused.append((p.shape[2], res is not None))
        return res

    monkeypatch.setattr(pf, '_kernel_norm_act', spy)
    with torch.no_grad():
        ref = stem(x)
        calls.clear()
        y = fast(x)
    assert torch.equal(y, ref) and torch.equal(torch.signbit(y), torch.signbit(ref))
    if seed in (0, 1):
        # the norm and the activation ran on the pooled tensor (8 rows, not the conv output's
        # 16) in one kernel pass; after a zero output the original order runs again
        assert fused == [(8, True)] and calls in ([], [16])
    else:  # not reordered
        assert fused == [] and calls == [16]


@pytest.mark.parametrize('act', ['prelu', 'prelu1', 'identity'])
def test_kernel_norm_act_equals_torch(act):
    """bnn_norm_act (pool_first's fused BatchNorm + PReLU pass) against torch's modules, bit
    for bit, on values with ties, signed zeros, infinities and NaN; the zero flag against
    torch's count."""
    g = torch.Generator().manual_seed(5)
    norm = trained_like(nn.BatchNorm2d(64), 2)
    module = {'prelu': nn.PReLU(64), 'prelu1': nn.PReLU(), 'identity': nn.Identity()}[act]
    if act != 'identity':
        with torch.no_grad():
            module.weight.uniform_(-1, 1, generator=g)
    terms = pf._kernel_terms(norm, module)
    assert terms is not None
    for x in (awkward((1, 64, 28, 28), 3), torch.randn(2, 64, 5, 7, generator=g) * 4,
              torch.zeros(1, 64, 3, 3)):
        with torch.no_grad():
            ref = module(norm(x))
        y, zero = pf._kernel_norm_act(x, terms)
        assert torch.equal(y.isnan(), ref.isnan())
        assert torch.equal(torch.signbit(y[~y.isnan()]), torch.signbit(ref[~ref.isnan()]))
        assert torch.equal(y.nan_to_num(), ref.nan_to_num())
        assert zero == bool((ref == 0).any())


class OtherBiRealBlock(nn.Module):
    """A block of another package with the Bi-Real forward under other attribute names."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        from plugins.binary import BinaryConv2d
        self.a = BinaryConv2d(channels, channels, 3, padding=1, scale='learned')
        self.na = nn.BatchNorm2d(channels)
        self.pa = nn.PReLU(channels)
        self.b = BinaryConv2d(channels, channels, 3, padding=1, scale='learned')
        self.nb = nn.BatchNorm2d(channels)
        self.pb = nn.Identity()
        self.proj = None

    def forward(self, x):
        y = self.pa(self.na(self.a(x)) + x)
        return self.pb(self.nb(self.b(y)) + y)


def test_registered_block_of_another_class_is_fused():
    bbc.register_basic_block(OtherBiRealBlock, 'a', 'na', 'pa', 'b', 'nb', 'pb', 'proj')
    model = trained_like(nn.Sequential(OtherBiRealBlock(48), OtherBiRealBlock(48)), 9)
    report = ExportReport()
    packed = export_binary(model, report=report)
    assert report.chained == ['0', '1']
    x = torch.randn(2, 48, 7, 10)
    with torch.no_grad():
        assert torch.equal(packed(x), model(x))


@pytest.mark.parametrize('shape', [(1, 64, 112, 112), (2, 5, 13, 11), (1, 3, 2, 7), (2, 4, 9, 2),
                                   (1, 2, 1, 5), (1, 2, 4, 1)])
def test_stem_max_pool_of_shifted_views_is_the_same_tensor(shape):
    """ResNet's stem pool (3x3, stride 2, padding 1) of the exported and float models, bit for
    bit: random values (shifted views), and values with +0/-0 ties, infinities and NaN (an
    output zero: the torch pool's order decides)."""
    from plugins.deploy.pooling import ViewsMaxPool2d, max_pool3x3s2
    for x in (torch.randn(shape), awkward(shape, 0), torch.rand(shape).round() * -0.0):
        ref = torch.nn.functional.max_pool2d(x, 3, 2, 1)
        with torch.no_grad():
            for y in (max_pool3x3s2(x), ViewsMaxPool2d(3, 2, 1)(x)):
                assert y.shape == ref.shape and torch.equal(y.isnan(), ref.isnan())
                assert torch.equal(torch.signbit(y[~y.isnan()]), torch.signbit(ref[~ref.isnan()]))
                assert torch.equal(y.nan_to_num(), ref.nan_to_num())
