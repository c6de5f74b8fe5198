"""The chain epilogue of the XNOR kernel (``bnn_conv2d_chain``) against an independent torch
computation: the convolution of the sign tensors with ``F.conv2d``, then the float operations
one by one in torch (the post-conv BatchNorm as an exactly rounded fused multiply-add, from
exact rationals), and the next layer's sign bits packed with numpy. Both orders (0: HPM chain,
1: Bi-Real block), every instruction set of the CPU, one and two threads, float or packed
input, unaligned channel counts, strides and borders."""
import ctypes
import random
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import plugins  # noqa: F401
from plugins.deploy import PackedBinaryConv2d, load_library
from plugins.deploy.kernel_plan import KernelPlan


@pytest.fixture
def lib():
    lib = load_library()
    yield lib
    lib.bnn_set_min_work_per_thread(ctypes.c_longlong(0))


def signs(t):
    return torch.where(torch.signbit(t), -1.0, 1.0)


def pack_bits(u):
    """(N, C, H, W) -> (N, H, W, ceil(C/64)) int64: bit c % 64 of word c // 64 is 1 where the
    sign bit of u is clear (+1), LSB first."""
    n, c, h, w = u.shape
    bits = (~torch.signbit(u)).permute(0, 2, 3, 1).numpy()
    words = -(-c // 64)
    bits = np.concatenate([bits, np.zeros((n, h, w, words * 64 - c), bool)], axis=-1)
    return torch.from_numpy(np.packbits(bits, axis=-1, bitorder='little').view('<u8')
                            .view(np.int64).copy())


def round_f32(q: Fraction) -> float:
    """The float32 nearest to the rational q, ties to even."""
    d = float(q)  # correctly rounded to float64; only a float32 midpoint needs a second look
    f = np.float32(d)
    if float(f) != d and np.isfinite(f):
        other = np.nextafter(f, np.float32(np.inf if d > float(f) else -np.inf))
        mid = (Fraction(float(f)) + Fraction(float(other))) / 2
        if Fraction(d) == mid:  # d is a tie in float32: decide on the exact q
            if q == mid:
                f = f if int(np.array(f).view(np.int32)) % 2 == 0 else other
            elif (q > mid) == (float(other) > float(f)):
                f = other
    return float(f)


def fma_ref(v, a, b):
    """v * a[c] + b[c] rounded once, from exact rationals. v: (N, C, H, W) float32."""
    out = torch.empty_like(v)
    flat, res = v.permute(1, 0, 2, 3), out.permute(1, 0, 2, 3)
    for c in range(v.shape[1]):
        fa, fb = Fraction(float(a[c])), Fraction(float(b[c]))
        vals = [round_f32(Fraction(x) * fa + fb) for x in flat[c].reshape(-1).tolist()]
        res[c] = torch.tensor(vals, dtype=torch.float32).view(flat[c].shape)
    return out


def test_fma_ref_rounds_once():
    """The reference itself: a product whose two-step rounding differs from the fused one."""
    v, a = np.float32(1 + 2**-12), np.float32(1 + 2**-12)
    b = np.float32(-1)
    fused = fma_ref(torch.tensor([[[[v]]]]), torch.tensor([a]), torch.tensor([b])).item()
    assert fused == 2**-11 + 2**-24  # (1 + 2^-12)^2 - 1 exactly
    assert float(v * a + b) == 2**-11  # the product rounded first loses the 2^-24


def random_case(rng: random.Random) -> dict:
    k = rng.choice([1, 3, 3, 3])
    case = dict(n=rng.randint(1, 2), cin=rng.choice([3, 32, 40, 64, 72, 130]),
                cout=rng.choice([8, 32, 44, 64, 72]), k=k, s=rng.choice([1, 1, 2]),
                p=rng.choice([0, 1, 1, 2]) if k == 3 else 0, pad_mode=rng.choice([0, 0, 1, -1]),
                h=rng.randint(k, 9), w=rng.randint(k, 9), order=rng.choice([0, 1]),
                scale=rng.random() < 0.8, bias=rng.random() < 0.5, post=rng.random() < 0.8,
                act=rng.choice([None, 'prelu', 'slope']), next_bn=rng.random() < 0.7,
                residual=rng.random() < 0.8, in_bn=rng.random() < 0.5,
                packed_in=rng.random() < 0.3, extra=rng.choice([0, 0, 5]))
    case['coff'] = rng.randint(0, case['extra'])
    return case


def run_case(lib, case, runs, gen):
    """Check the kernel for each (isa, threads) of ``runs`` against one torch reference."""
    n, cin, cout, k, s, p = (case[a] for a in ('n', 'cin', 'cout', 'k', 's', 'p'))
    h, w = case['h'], case['w']
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    ctotal, coff = cout + case['extra'], case['coff']
    weight = torch.randint(0, 2, (cout, cin, k, k), generator=gen) * 2.0 - 1
    conv = PackedBinaryConv2d.from_signs(weight, padding=p, stride=s)
    wt, tp = conv._kernel_buffers()

    def vec(c, lo=-1.5, hi=2.0):
        return (torch.rand(c, generator=gen) * (hi - lo) + lo).float().contiguous()

    x = torch.randn(n, cin, h, w, generator=gen)
    x.view(-1)[::11] = 0.0
    x.view(-1)[5::17] = -0.0
    ia, ib = (vec(cin), vec(cin, -0.3, 0.3)) if case['in_bn'] and not case['packed_in'] \
        else (None, None)
    sc = vec(cout) if case['scale'] else None
    bs = vec(cout, -3, 3) if case['bias'] else None
    pa, pb = (vec(cout), vec(cout, -2, 2)) if case['post'] else (None, None)
    ap = vec(cout, 0.1, 2) if case['act'] == 'slope' else None
    an = vec(cout, -1, 1) if case['act'] else None
    na, nb = (vec(cout), vec(cout, -0.5, 0.5)) if case['next_bn'] else (None, None)
    res = torch.randn(n, ctotal, oh, ow, generator=gen) if case['residual'] else None

    # reference: conv of the signs, then the float model's operations in torch
    xin = x * ia.view(1, -1, 1, 1) + ib.view(1, -1, 1, 1) if ia is not None else x
    xs = signs(xin)
    if case['pad_mode'] == 0:
        v = F.conv2d(xs, weight, stride=s, padding=p)
    else:
        v = F.conv2d(F.pad(xs, (p, p, p, p), value=float(case['pad_mode'])), weight, stride=s)
    if sc is not None:
        v = v * sc.view(1, -1, 1, 1)
    if bs is not None:
        v = v + bs.view(1, -1, 1, 1)
    if pa is not None:
        v = fma_ref(v, pa, pb)
    r = res[:, coff:coff + cout] if res is not None else None
    if r is not None and case['order'] == 1:
        v = v + r
    if an is not None:
        v = torch.where(v > 0, v * ap.view(1, -1, 1, 1) if ap is not None else v,
                        v * an.view(1, -1, 1, 1))
    u = v * na.view(1, -1, 1, 1) + nb.view(1, -1, 1, 1) if na is not None else v
    ref_bits = pack_bits(u)
    if r is not None and case['order'] == 0:
        v = v + r

    xpacked = pack_bits(x) if case['packed_in'] else None
    ptr = lambda t: None if t is None else t.data_ptr()  # noqa: E731
    for isa, threads in runs:
        lib.bnn_set_min_work_per_thread(ctypes.c_longlong(1 if threads > 1 else 0))
        out = torch.full((n, ctotal, oh, ow), 7.0)
        nxt = torch.zeros(n, oh, ow, -(-cout // 64), dtype=torch.int64)
        rc = lib.bnn_conv2d_chain(
            None if xpacked is not None else x.data_ptr(), n, cin, h, w, ptr(wt), ptr(tp), cout,
            1, k, k, s, s, p, p, 1, 1, case['pad_mode'], ptr(sc), ptr(bs), ptr(out), oh, ow,
            threads, isa, ptr(ia), ptr(ib), ptr(xpacked), ctotal, coff, ptr(ap), ptr(an), ptr(na),
            ptr(nb), ptr(nxt), ptr(res), ptr(pa), ptr(pb), case['order'])
        assert rc == 0
        y = out[:, coff:coff + cout]
        assert torch.equal(y, v) and torch.equal(torch.signbit(y), torch.signbit(v)), \
            f'isa {isa}, {threads} threads: {(y != v).sum().item()} of {v.numel()} values differ'
        others = torch.cat([out[:, :coff], out[:, coff + cout:]], 1)
        assert bool((others == 7.0).all())  # the other channels of the concatenation untouched
        assert torch.equal(nxt, ref_bits), f'isa {isa}, {threads} threads: next-layer bits'
        # the same call through a kept plan (bnn_conv2d_plan / bnn_conv2d_run)
        plan = KernelPlan(n=n, c=cin, h=h, w=w, wt=wt, tap_pop=tp, out_channels=cout, kh=k,
                          kw=k, sh=s, sw=s, ph=p, pw=p, pad_value=case['pad_mode'], scale=sc,
                          bias=bs, oh=oh, ow=ow, threads=threads, isa=isa, in_alpha=ia,
                          in_beta=ib, packed_input=xpacked is not None, out_ctotal=ctotal,
                          out_coff=coff, act_pos=ap, act_neg=an, next_bits=1, next_alpha=na,
                          next_beta=nb, residual=res is not None, post_alpha=pa, post_beta=pb,
                          order=case['order'])
        out = torch.full((n, ctotal, oh, ow), 7.0)
        nxt = torch.full((n, oh, ow, -(-cout // 64)), -1, dtype=torch.int64)  # all written
        for _ in range(2):  # a plan is reused
            rc = plan.run(None if xpacked is not None else x.data_ptr(), ptr(xpacked),
                          out.data_ptr(), nxt.data_ptr(), ptr(res))
            assert rc == 0
            assert torch.equal(out[:, coff:coff + cout], v), f'plan, isa {isa}, {threads} threads'
            assert bool((torch.cat([out[:, :coff], out[:, coff + cout:]], 1) == 7.0).all())
            assert torch.equal(nxt, ref_bits), f'plan, isa {isa}, {threads} threads: bits'


@pytest.mark.parametrize('seed', range(16))
def test_chain_epilogue_matches_torch(seed, lib):
    rng = random.Random(seed)
    case = random_case(rng)
    if seed < 4:  # make sure both orders see the full epilogue
        case.update(order=seed % 2, post=True, residual=True, next_bn=True, act='prelu')
    runs = [(isa, threads) for isa in range(lib.bnn_best_isa() + 1) for threads in (1, 2)]
    run_case(lib, case, runs, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('h,w,cin,cout,order', [(19, 23, 72, 100, 1), (37, 70, 64, 16, 0),
                                                (37, 70, 64, 16, 1)])
def test_chain_epilogue_large_spatial(lib, h, w, cin, cout, order):
    """More positions than one chunk of the kernel: chunks with many border positions (a
    per-position padding class) and with few (one vector pass, the borders recomputed)."""
    case = dict(n=1, cin=cin, cout=cout, k=3, s=1, p=1, pad_mode=0, h=h, w=w, order=order,
                scale=True, bias=True, post=True, act='slope', next_bn=True, residual=True,
                in_bn=True, packed_in=False, extra=3, coff=2)
    runs = [(isa, 1) for isa in range(lib.bnn_best_isa() + 1)] + [(lib.bnn_best_isa(), 2)]
    run_case(lib, case, runs, torch.Generator().manual_seed(h))
