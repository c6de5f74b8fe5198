"""The C++ training passes of plugins.binary.train_ops (sign + straight-through mask bits, the
spatial scale's forward and fused backward, pooled outputs): the same bits as the torch-op path,
the values of an independent float64 computation, and the torch path when they cannot run."""
import pytest
import torch
import torch.nn.functional as F

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d, train_ops
from plugins.binary.scaling import SCALINGS



@pytest.fixture(autouse=True, scope='module')
def library_builds():
    """The C++ passes must build here (a compile error fails these tests, it does not skip
    them; the torch fallback without a compiler has its own test below)."""
    assert train_ops.native_library() is not None, 'the C++ training ops did not build'


def _special(shape, clip=1.0):
    """Random values with the cases a mask or a sign can get wrong: +-0, +-clip exactly, just
    inside / outside, NaN, +-inf, tiny."""
    x = torch.randn(shape) * 1.5
    specials = torch.tensor([0.0, -0.0, clip, -clip, float('nan'), -float('nan'), float('inf'),
                             -float('inf'), 1e-38, -1e-38, 1e-45,
                             torch.nextafter(torch.tensor(clip), torch.tensor(0.0)).item(),
                             torch.nextafter(torch.tensor(clip), torch.tensor(9.0)).item()])
    flat = x.view(-1)
    idx = torch.randperm(flat.numel())[:specials.numel() * 3]
    flat[idx] = specials.repeat(3)[:idx.numel()]
    return x


def _same(a, b):
    """Bit-for-bit equality (NaN payloads and signed zeros included)."""
    return a.shape == b.shape and torch.equal(a.view(torch.int32), b.view(torch.int32))


@pytest.mark.parametrize('numel', [1, 31, 32, 33, 1000, 4 * 3 * 17 * 19])
@pytest.mark.parametrize('clip,save_mask', [(1.0, False), (0.7, True), (0.7, False),
                                            (None, False)])
@pytest.mark.parametrize('threads', [1, 2])
def test_sign_and_straight_through_mask_equal_the_torch_ops(numel, clip, save_mask, threads):
    torch.manual_seed(numel)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = _special((numel, ), 1.0 if clip is None else clip)
        xb, saved, bits = train_ops.sign_ste_forward(x, clip, save_mask, True, native=True)
        xr, saved_r, bits_r = train_ops.sign_ste_forward(x, clip, save_mask, True, native=False)
        assert bits == (clip is not None) and not bits_r
        assert _same(xb, xr)
        # independent: the sign bit read from the float's bits
        assert torch.equal(xb, torch.where(x.view(torch.int32) < 0, -1.0, 1.0))
        grad = torch.randn(numel)
        grad.view(-1)[:3] = torch.tensor([float('nan'), -0.0, float('inf')])[:min(3, numel)]
        g1 = train_ops.sign_ste_backward(grad.clone(), saved, clip, save_mask, bits)
        g2 = train_ops.sign_ste_backward(grad.clone(), saved_r, clip, save_mask, bits_r)
        # torch's hardtanh_backward keeps a NaN x in its scalar remainder only: compare the rest
        finite = ~x.isnan()
        assert _same(g1[finite], g2[finite])
        if clip is not None and save_mask:  # grad * 1{|x| < clip}, as grad.mul_(bool mask)
            assert _same(g1, torch.where(x.abs() < clip, grad, grad * 0.0))
        elif clip is not None:  # 0 unless |x| < clip (NaN x: 0)
            assert _same(g1, torch.where(x.abs() < clip, grad, torch.zeros(())))
        else:
            assert _same(g1, grad)
    finally:
        torch.set_num_threads(old)


def test_mask_bits_applied_to_a_strided_gradient():
    x = _special((2, 3, 5, 7), 0.7)
    x[x.isnan()] = 0.5
    _, saved, bits = train_ops.sign_ste_forward(x, 0.7, False, True)
    _, saved_r, _ = train_ops.sign_ste_forward(x, 0.7, False, True, native=False)
    grad = torch.randn(2, 7, 5, 3).transpose(1, 3)  # not contiguous
    ref = train_ops.sign_ste_backward(grad.clone(), saved_r, 0.7, False, False)
    assert _same(train_ops.sign_ste_backward(grad.clone(), saved, 0.7, False, bits), ref)


SCALE_SHAPES = [(4, 6, 8, 8), (3, 5, 7, 9), (2, 16, 32, 32), (1, 3, 1, 1)]


def _scale(shape, kind):
    n, o, h, w = shape
    return {'chw': torch.rand(o, h, w) + 0.5, 'hw': torch.rand(h, w) + 0.5,
            '1hw': torch.rand(1, h, w) + 0.5}[kind]


@pytest.mark.parametrize('shape', SCALE_SHAPES)
@pytest.mark.parametrize('kind', ['chw', 'hw', '1hw'])
@pytest.mark.parametrize('bias', [False, True])
def test_scale_forward_equals_torch_and_float64(shape, kind, bias):
    torch.manual_seed(0)
    y = torch.randn(shape) * 30
    s = _scale(shape, kind)
    b = torch.randn(shape[1]) if bias else None
    out = train_ops.scale_forward(y, s, b, native=True)
    ref = train_ops.scale_forward(y, s, b, native=False)
    assert _same(out, ref)
    r64 = y.double() * s.double() + (0 if b is None else b.double().view(1, -1, 1, 1))
    assert torch.allclose(out.double(), r64, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('shape', SCALE_SHAPES)
@pytest.mark.parametrize('kind', ['chw', 'hw', '1hw'])
@pytest.mark.parametrize('need', [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize('threads', [1, 2])
def test_scale_backward_equals_torch_and_autograd_in_float64(shape, kind, need, threads):
    torch.manual_seed(1)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        y = torch.randint(-40, 41, shape).float()  # an integer convolution output
        s = _scale(shape, kind)
        grad = torch.randn(shape)
        gy, gs = train_ops.scale_backward(grad, y, s, *need, native=True)
        gy_r, gs_r = train_ops.scale_backward(grad, y, s, *need, native=False)
        # independent: autograd of y * s in float64, before reducing to s's shape
        y64 = y.double().requires_grad_()
        s64 = s.double().expand(shape[1:]).contiguous().requires_grad_()
        (y64 * s64).backward(grad.double())
        if need[0]:
            assert _same(gy, gy_r)
            assert torch.allclose(gy.double(), y64.grad, rtol=1e-6, atol=0)
        else:
            assert gy is None and gy_r is None
        if need[1]:
            assert _same(gs, gs_r)
            assert torch.allclose(gs.double(), s64.grad, rtol=1e-5, atol=1e-5)
        else:
            assert gs is None and gs_r is None
    finally:
        torch.set_num_threads(old)


def test_wrong_gradient_is_detected():
    """The comparisons above can fail: a scale gradient summed in another order than torch's
    differs in the last bits (so bit equality is a real check), and a gradient off by one
    batch element fails the float64 comparison."""
    torch.manual_seed(2)
    grad, y = torch.randn(8, 4, 16, 16), torch.randn(8, 4, 16, 16) * 100
    s = torch.rand(4, 16, 16)
    _, gs = train_ops.scale_backward(grad, y, s, False, True)
    other_order = (grad * y).flip(0).sum(0)
    assert not _same(gs, other_order)
    assert torch.allclose(gs, other_order, rtol=1e-4, atol=1e-3)
    missing = (grad[1:] * y[1:]).sum(0)
    assert not torch.allclose(gs, missing, rtol=1e-5, atol=1e-5)


def _layer_step(layer, x, g):
    xi = x.clone().requires_grad_()
    y = layer(xi)
    y.backward(g)
    out = [y.detach().clone(), xi.grad] + [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    return out


@pytest.mark.parametrize('name', list(SCALINGS))
@pytest.mark.parametrize('act_q', [dict(type='SignSTE'), dict(type='SignSTE', clip=0.7,
                                                               save_mask=True),
                                   dict(type='SignSTE', clip=None)])
@pytest.mark.parametrize('bias', [False, True])
def test_layer_native_and_torch_paths_give_the_same_bits(name, act_q, bias):
    torch.manual_seed(3)
    layer = BinaryConv2d(6, 8, 3, padding=1, bias=bias, act_quantizer=act_q, out_size=(9, 10),
                         **SCALINGS[name]).train()
    with torch.no_grad():
        for p in layer.scaling.parameters():
            p.uniform_(0.5, 2.0)
    x = _special((3, 6, 9, 10), act_q.get('clip', 1.0) or 1.0)
    x[x.isnan() | x.isinf()] = 0.25  # finite inputs: gradients comparable
    g = torch.randn(3, 8, 9, 10)
    native = _layer_step(layer, x, g)
    layer.native_ops = False
    reference = _layer_step(layer, x, g)
    for a, b in zip(native, reference):
        assert _same(a, b)
    assert native[1].abs().sum() > 0


def test_layer_float64_and_channels_last_take_the_torch_path_with_the_same_values():
    torch.manual_seed(4)
    layer = BinaryConv2d(4, 4, 3, padding=1, scale='learned', scale_shape='chw',
                         out_size=(6, 6)).train()
    x = torch.randn(2, 4, 6, 6)
    g = torch.randn(2, 4, 6, 6)
    native = _layer_step(layer, x, g)
    strided = _layer_step(layer, x.contiguous(memory_format=torch.channels_last),
                          g.contiguous(memory_format=torch.channels_last))
    for a, b in zip(native, strided):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-6)
    layer64 = BinaryConv2d(4, 4, 3, padding=1, scale='learned', scale_shape='chw',
                           out_size=(6, 6)).double().train()
    layer64.load_state_dict(layer.state_dict())
    wide = _layer_step(layer64, x.double(), g.double())
    for a, b in zip(native, wide):
        assert torch.allclose(a.double(), b, rtol=1e-5, atol=1e-5)


def test_pooled_buffers_are_reused_only_when_free():
    train_ops.clear_pool()
    a = train_ops.pooled_empty((3, 5))
    ptr = a.data_ptr()
    view = a[1:]
    del a
    others = [train_ops.pooled_empty((3, 5)) for _ in range(3)]  # a's view still uses it
    assert len({o.data_ptr() for o in others} | {ptr}) == 4
    del view
    c = train_ops.pooled_empty((15, ))  # the only free buffer of that size
    assert c.data_ptr() == ptr and c._base is None and c.shape == (15, )
    w = torch.randn(15, requires_grad=True)
    loss = (w * c).sum()  # the graph saves c
    del c
    d = train_ops.pooled_empty((15, ))
    assert d.data_ptr() != ptr
    loss.backward()
    del loss
    assert train_ops.pooled_empty((15, )).data_ptr() == ptr
    train_ops.clear_pool()


def test_two_forwards_before_one_backward_and_inplace_after_the_layer():
    """Pooled outputs of one forward are not reused by the next while a graph holds them."""
    torch.manual_seed(5)
    layer = BinaryConv2d(4, 4, 3, padding=1, scale='learned', scale_shape='rank1',
                         out_size=(5, 5)).train()
    x1, x2 = torch.randn(2, 4, 5, 5), torch.randn(2, 4, 5, 5)
    g1, g2 = torch.randn(2, 4, 5, 5), torch.randn(2, 4, 5, 5)
    separate = [_layer_step(layer, x, g) for x, g in ((x1, g1), (x2, g2))]
    a, b = x1.clone().requires_grad_(), x2.clone().requires_grad_()
    ya, yb = layer(a), layer(b)
    torch.relu_(ya)  # an in-place op on the output (not a view: allowed)
    ((ya * g1).sum() + (yb * g2).sum()).backward()
    assert torch.equal(b.grad, separate[1][1])
    relu_ref = BinaryConv2d(4, 4, 3, padding=1, scale='learned', scale_shape='rank1',
                            out_size=(5, 5)).train()
    relu_ref.load_state_dict(layer.state_dict())
    relu_ref.native_ops = False
    r = x1.clone().requires_grad_()
    (torch.relu(relu_ref(r)) * g1).sum().backward()
    assert torch.equal(a.grad, r.grad)


def test_without_a_compiler_the_torch_path_is_used(monkeypatch, tmp_path):
    from plugins.deploy import build
    monkeypatch.setattr(train_ops._library, '_lib', None)
    monkeypatch.setattr(train_ops._library, '_failed', False)
    monkeypatch.setattr(build, '_build_dirs', lambda: [tmp_path])  # no prebuilt library
    monkeypatch.setenv('CXX', 'no-such-compiler-xyz')
    with pytest.warns(UserWarning, match='using torch ops'):
        assert train_ops.native_library() is None
    assert train_ops.native_library() is None  # warned once, not retried
    layer = BinaryConv2d(4, 4, 3, padding=1, scale='learned', scale_shape='chw',
                         out_size=(5, 5)).train()
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and layer.scaling.gamma.grad is not None


def test_environment_switch_disables_the_native_ops(monkeypatch):
    monkeypatch.setenv('PLUGINS_BINARY_NATIVE', '0')
    assert train_ops.native_library() is None
    x = torch.randn(40)
    xb, saved, bits = train_ops.sign_ste_forward(x, 1.0, False, True)
    assert not bits and saved is x


def test_library_builds_from_its_source_into_the_build_directory(tmp_path, monkeypatch):
    from plugins.deploy import build
    monkeypatch.setenv('PLUGINS_DEPLOY_BUILD_DIR', str(tmp_path))
    path = build.compiled_library(train_ops.SOURCE)
    assert path.parent == tmp_path and path.name.startswith('train_ops-') and path.exists()
    assert build.compiled_library(train_ops.SOURCE) == path
    assert build.library_path().name.startswith('xnor_conv-')  # the deploy kernel unchanged


@pytest.mark.parametrize('frozen', ['weight', 'input', 'both'])
def test_layer_gradients_when_only_some_inputs_need_them(frozen):
    torch.manual_seed(6)
    results = []
    for native in (True, False):
        torch.manual_seed(7)
        layer = BinaryConv2d(4, 6, 3, padding=1, bias=True, scale='learned',
                             scale_shape='channel_spatial', out_size=(5, 5)).train()
        layer.native_ops = native
        if frozen in ('weight', 'both'):
            layer.weight.requires_grad_(False)
        x = torch.randn(2, 4, 5, 5, requires_grad=frozen not in ('input', 'both'))
        layer(x).backward(torch.randn(2, 6, 5, 5))
        grads = [x.grad] + [p.grad for p in layer.parameters()]
        assert (x.grad is None) == (frozen in ('input', 'both'))
        assert layer.scaling.beta.grad is not None and layer.bias.grad is not None
        results.append(grads)
    for a, b in zip(*results):
        assert (a is None and b is None) or _same(a, b)
