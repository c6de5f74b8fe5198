"""Packed chains (plugins/deploy/chain.py): HPM blocks whose branch activations stay packed,
concatenated in place, with residual and post activation in the kernel's epilogue."""
import copy
import random

import pytest
import torch

import plugins  # noqa: F401
from plugins.deploy import export_binary, load_library, load_packed, save_packed
from plugins.deploy.chain import chain_blocks, chained_parts, unchain_blocks
from plugins.pose.hpm import HPMBlock



def trained_like(model, rng):
    """Random BatchNorm statistics, signed scales and slopes (as after training)."""
    g = torch.Generator().manual_seed(rng.randint(0, 10**6))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5, generator=g)
                m.running_var.uniform_(0.5, 2, generator=g)
                m.weight.uniform_(-1, 1, generator=g)
                m.bias.uniform_(-0.3, 0.3, generator=g)
            for name in ('alpha', 'neg', 'pos'):
                p = getattr(m, name, None)
                if isinstance(p, torch.nn.Parameter) and p.dim() == 1:
                    p.uniform_(-1.5, 2, generator=g)
    return model.eval()


def random_block(rng):
    cin = rng.choice([8, 20, 40, 64, 72, 130])
    cout = rng.choice([cin, cin, 16, 44, 128, 200])
    post = rng.choice([None, dict(type='ChannelPReLU'), dict(type='LearnableSlope')])
    conv = dict(type='BinaryConv2d', scale=rng.choice(['learned', 'none', 'xnor']),
                post_act=post)
    block = HPMBlock(cin, cout, conv_cfg=conv, act_cfg=None, bias=rng.random() < 0.5)
    return trained_like(block, rng), cin


@pytest.mark.parametrize('seed', range(12))
def test_random_hpm_blocks_chained_are_bit_identical(seed, two_threads_everywhere):
    rng = random.Random(seed)
    block, cin = random_block(rng)
    x = torch.randn(rng.randint(1, 3), cin, rng.randint(1, 12), rng.randint(1, 12))
    x.view(-1)[::13] = 0.0
    packed = export_binary(block, chain=False)
    ref = packed(x)
    with torch.no_grad():
        assert torch.equal(block(x), ref)  # the float binary model (folded-BN inputs: no ties)
    assert chain_blocks(packed) == ['']
    y = packed(x)
    assert torch.equal(y, ref) and torch.equal(torch.signbit(y), torch.signbit(ref))
    unchain_blocks(packed)
    assert torch.equal(packed(x), ref)


def test_chain_reads_packed_bits_not_the_float_branch_output(monkeypatch):
    """The second and third convs get no float input: their x pointer is null."""
    block, cin = random_block(random.Random(3))
    packed = export_binary(block)
    lib = load_library()
    calls = []
    real = lib.bnn_conv2d_run  # (the plans are built at the first call, with the spy)

    def spy(*args):
        calls.append((args[1], args[2]))  # x, xpacked
        return real(*args)

    monkeypatch.setattr(lib, 'bnn_conv2d_run', spy)
    packed(torch.randn(1, cin, 6, 6))
    assert len(calls) == 3
    assert calls[0][0] is not None and calls[0][1] is None
    assert all(x is None and xp is not None for x, xp in calls[1:])


def hourglass(**block):
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS
    conv = dict(type='BinaryConv2d', scale='learned', **block)
    # mmpose's scope whatever an earlier test of the session left as the default scope
    with DefaultScope.overwrite_default_scope('mmpose'):
        return MODELS.build(dict(type='StackedHourglass', num_stacks=1, depth=2, channels=64,
                                 out_channels=5, stem_channels=(16, 32),
                                 block=dict(type='HPMBlock', conv_cfg=conv, act_cfg=None)))


def test_exported_hourglass_chains_its_hpm_blocks_and_round_trips(tmp_path):
    torch.manual_seed(0)
    model = trained_like(hourglass(post_act=dict(type='ChannelPReLU')), random.Random(1))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        packed = export_binary(model)
        names = [n for n, m in packed.named_modules() if chained_parts(m) is not None]
        assert len(names) >= 5 and 'forward' in packed.get_submodule(names[0]).__dict__
        out = packed(x)
        assert torch.equal(out[0] if isinstance(out, (list, tuple)) else out,
                           ref[0] if isinstance(ref, (list, tuple)) else ref)
        save_packed(packed, tmp_path / 'hg.bnn')
        loaded = load_packed(tmp_path / 'hg.bnn', model=hourglass(
            post_act=dict(type='ChannelPReLU')))
        assert 'forward' in loaded.get_submodule(names[0]).__dict__
        again = loaded(x)
        assert torch.equal(again[0] if isinstance(again, (list, tuple)) else again,
                           out[0] if isinstance(out, (list, tuple)) else out)


@pytest.mark.parametrize('conv', [dict(scale='learned', scale_shape='chw', out_size=(6, 6)),
                                  dict(scale='none', act_scale=True)])
def test_blocks_that_do_not_fit_keep_their_forward(conv):
    block = trained_like(HPMBlock(16, 16, conv_cfg=dict(type='BinaryConv2d', **conv),
                                  act_cfg=None), random.Random(0))
    x = torch.randn(1, 16, 6, 6)
    with torch.no_grad():
        block(x)
    packed = export_binary(block)
    assert chained_parts(packed) is None and 'forward' not in packed.__dict__
    with torch.no_grad():
        assert torch.allclose(packed(x), block(x), atol=1e-5)


@pytest.mark.parametrize('k,s,p,ceil', [(3, 2, 1, False), (2, 2, 0, False), (3, 1, 1, False),
                                        (3, 2, 0, True)])
def test_channels_last_max_pool_is_the_same_tensor(k, s, p, ceil):
    from plugins.deploy.pooling import ViewsMaxPool2d
    torch.manual_seed(k + s)
    x = torch.randn(2, 16, 13, 11)
    r = torch.rand_like(x)
    x[r < 0.3] = 0.0
    x[r > 0.7] = -0.0  # ties of +0 and -0 in a window: the sign of the result must match
    x[0, 0, 0, 0] = float('nan')
    ref = torch.nn.MaxPool2d(k, s, p, ceil_mode=ceil)(x)
    y = ViewsMaxPool2d(k, s, p, ceil_mode=ceil)(x)
    assert y.is_contiguous() and torch.equal(torch.signbit(y), torch.signbit(ref))
    assert torch.equal(torch.nan_to_num(y), torch.nan_to_num(ref)) and y.isnan()[0, 0, 0, 0]


def test_cached_chain_plan_follows_edits_and_shapes():
    """The per-block call plan is cached; editing a buffer or parameter in place, replacing a
    branch's conv, or another input shape must not reuse stale pointers or values."""
    rng = random.Random(5)
    block = trained_like(HPMBlock(40, 44, conv_cfg=dict(
        type='BinaryConv2d', scale='learned', post_act=dict(type='ChannelPReLU')),
        act_cfg=None), rng)
    packed = export_binary(block)
    assert 'forward' in packed.__dict__

    def unchained(x):
        return type(packed).forward(packed, x)

    x = torch.randn(2, 40, 7, 9)
    with torch.no_grad():
        assert torch.equal(packed(x), unchained(x))
        conv = chained_parts(packed)[1][0]
        conv.scale.mul_(-1.5)  # in place: same tensor, new version
        act = [m for m in packed.branches[2].modules() if type(m).__name__ == 'ChannelPReLU'][0]
        act.weight.add_(0.25)
        y = packed(x)
        assert torch.equal(y, unchained(x))
        first = chained_parts(packed)[0][0]
        first.in_beta = first.in_beta + 0.1  # a replaced buffer (new tensor)
        assert torch.equal(packed(x), unchained(x))
        x2 = torch.randn(1, 40, 5, 4)
        assert torch.equal(packed(x2), unchained(x2))
        assert torch.equal(packed(x), unchained(x))
        # a replaced module (another activation object in branch 1)
        name = [n for n, m in packed.branches[0].named_modules()
                if type(m).__name__ == 'ChannelPReLU'][0]
        parent, _, attr = name.rpartition('.')
        holder = packed.branches[0].get_submodule(parent) if parent else packed.branches[0]
        new_act = copy.deepcopy(getattr(holder, attr))
        new_act.weight.mul_(-2)
        setattr(holder, attr, new_act)
        assert torch.equal(packed(x), unchained(x))
