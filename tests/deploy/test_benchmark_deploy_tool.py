"""tools/benchmark_deploy.py's timing loop: rotation of the variants and the back-to-back mode
that times each model's steady state (the first call of each block is not timed)."""
import time


def test_interleaved_rotates_and_runs_each_call_once_per_round(deploy_tool):
    tool = deploy_tool('benchmark_deploy')
    calls = []
    out = tool.interleaved({'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')},
                           rounds=3, warmup=1)
    assert calls == ['a', 'b'] + ['a', 'b', 'b', 'a', 'a', 'b']
    assert set(out) == {'a', 'b', 'a cpu', 'b cpu'}


def test_back_to_back_times_only_the_calls_after_the_first_of_each_block(deploy_tool):
    """A function whose first call of every block is slow (cold caches, here a sleep) has a
    fast median back to back, and a slow one when every call follows the other function."""
    tool = deploy_tool('benchmark_deploy')
    calls = []
    state = {'last': None}

    def slow_after_other(name):
        def fn():
            calls.append(name)
            if state['last'] != name:
                time.sleep(0.02)
            state['last'] = name
        return fn

    fns = {n: slow_after_other(n) for n in 'abc'}
    steady = tool.interleaved(fns, rounds=3, warmup=0, repeat=3)
    assert ''.join(calls) == 'aaabbbccc' 'bbbcccaaa' 'cccaaabbb'
    assert all(steady[n] < 0.01 for n in 'abc')
    cold = tool.interleaved(fns, rounds=3, warmup=0)  # no call follows its own function
    assert all(cold[n] >= 0.02 for n in 'abc')


def test_binary_1x1_variant_binarises_the_1x1_convs_of_the_same_float_model(deploy_tool):
    """``--models hourglass_binary_1x1``: the binary hourglass whose feature / merge convs and
    projection skips are binary too; its float reference is the same float hourglass."""
    import torch
    from plugins.binary import BinaryConv2d
    tool = deploy_tool('benchmark_deploy')
    small = dict(channels=32, depth=2, stacks=2)
    plain, ones = tool.hourglass(True, **small), tool.hourglass(True, **small, binary_1x1=True)
    binary = lambda m: {n for n, x in m.named_modules() if isinstance(x, BinaryConv2d)}  # noqa
    extra = binary(ones) - binary(plain)
    assert sorted(extra) == ['features.0.1.1', 'features.1.1.1', 'merge_features.0.conv',
                             'merge_heatmaps.0.conv', 'stem.1.shortcut.path.conv',
                             'stem.4.shortcut.path.conv']
    real = [n for n, x in ones.named_modules()
            if isinstance(x, torch.nn.Conv2d) and not isinstance(x, BinaryConv2d)]
    assert real == ['stem.0.0', 'heatmaps.0', 'heatmaps.1']
    assert set(tool.HOURGLASS_VARIANTS) == {'hourglass', 'hourglass_binary_1x1'}


def test_profile_names_the_cpp_1x1_sequentials_apart_from_fused_stages(deploy_tool):
    from torch import nn

    from plugins.deploy.exact_conv1x1 import exact_conv1x1s
    tool = deploy_tool('benchmark_deploy')
    model = nn.Sequential(nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8)),
                          nn.Sequential(nn.ReLU())).eval()
    assert exact_conv1x1s(model) == 1
    assert 'exact_conv1x1' in tool.layer_kind(model[0])
    model[1].forward = model[1].__call__  # another pass's swapped forward
    assert 'Bi-Real' in tool.layer_kind(model[1])


def test_profile_names_the_cpp_lone_1x1_convs(deploy_tool):
    from torch import nn

    from plugins.deploy.exact_conv1x1 import exact_conv1x1s
    tool = deploy_tool('benchmark_deploy')
    model = nn.ModuleList([nn.Conv2d(8, 4, 1), nn.Conv2d(8, 4, 3)]).eval()
    assert exact_conv1x1s(model) == 1
    assert 'exact_conv1x1' in tool.layer_kind(model[0])
    assert tool.layer_kind(model[1]) == 'real conv / linear'


def test_profile_names_the_cpp_pre_activation_blocks(deploy_tool):
    from plugins.deploy.exact_conv1x1 import exact_conv1x1s
    from plugins.pose.layers import PreActConv
    tool = deploy_tool('benchmark_deploy')
    model = PreActConv(8, 4, 1).eval()
    assert exact_conv1x1s(model) == 1
    assert 'pre-activation' in tool.layer_kind(model)


def test_stage_times_separate_the_float_model_the_cold_and_the_back_to_back_packed(
        deploy_tool):
    """``--stages``: a packed stage that is slow only right after the float model (cold
    caches, here a sleep) shows it in the second column and not in the third; stages inside a
    ModuleList are timed one by one; the float column is the float model's own stage."""
    import torch
    from torch import nn
    tool = deploy_tool('benchmark_deploy')
    last = {'model': None}

    class Stage(nn.Module):
        def __init__(self, model, cold=0.0, warm=0.0):
            super().__init__()
            self.model, self.cold, self.warm = model, cold, warm

        def forward(self, x):
            time.sleep(self.cold if last['model'] != self.model else self.warm)
            last['model'] = self.model
            return x

    class Model(nn.Module):
        def __init__(self, name, cold, warm):
            super().__init__()
            self.stem = Stage(name, cold, warm)
            self.blocks = nn.ModuleList([Stage(name, 0.002, 0.002), Stage(name, 0.0, 0.0)])

        def forward(self, x):
            x = self.stem(x)
            for b in self.blocks:
                x = b(x)
            return x

    real, packed = Model('float', 0.004, 0.004), Model('packed', 0.012, 0.0)
    st = tool.stage_times(real, packed, torch.zeros(1), rounds=3)
    assert list(st) == ['stem', 'blocks.0', 'blocks.1']
    f, cold, warm = st['stem']
    assert 0.004 <= f < 0.010 and cold >= 0.012 and warm < 0.004
    assert all(v >= 0.002 for v in st['blocks.0'])


def test_int8_comparison_computes_the_scaled_sign_convolution(deploy_tool):
    """``--int8``: the oneDNN int8 column times the same convolution as the packed layer."""
    import pytest
    import torch
    import torch.nn.functional as F

    from plugins.binary.int8_conv import int8_conv_available
    if not int8_conv_available():
        pytest.skip('no exact oneDNN int8 convolution in this torch build')
    tool = deploy_tool('benchmark_deploy')
    torch.manual_seed(0)
    x, w, scale = torch.randn(2, 16, 9, 9), torch.randn(8, 16, 3, 3), torch.rand(8)
    y = tool.onednn_int8_layer(x, w, scale, 2, 1)()
    sign = lambda t: torch.where(t >= 0, 1.0, -1.0)  # noqa: E731
    ref = F.conv2d(sign(x), sign(w), None, 2, 1) * scale.view(-1, 1, 1)
    assert torch.equal(y.contiguous(), ref)
    t = tool.bench_layer(16, 8, 3, 1, 8, rounds=1, int8=True)
    assert {'float', 'packed', 'int8'} <= set(t)


def test_int8_flag_without_the_op_is_one_clear_error(deploy_tool, monkeypatch, capsys):
    import pytest
    tool = deploy_tool('benchmark_deploy')
    monkeypatch.setattr(tool, 'int8_conv_available', lambda: False)
    with pytest.raises(SystemExit):
        tool.main(['--int8', '--no-models', '--quick'])
    assert 'no exact oneDNN int8 convolution' in capsys.readouterr().err


def test_context_times_follow_each_kind_of_work(deploy_tool):
    """``--contexts``: a packed model that is slow unless it ran last shows it after every other
    kind of work and not back to back."""
    import torch
    from torch import nn
    tool = deploy_tool('benchmark_deploy')
    last = {'model': None}

    class Model(nn.Module):
        def __init__(self, name, cold):
            super().__init__()
            self.name, self.cold = name, cold

        def forward(self, x):
            time.sleep(self.cold if last['model'] != self.name else 0.0)
            last['model'] = self.name
            return x

    real, packed = Model('float', 0.0), Model('packed', 0.01)

    def other(fn):  # any work that is not the packed model resets ``last``
        def run(*args):
            last['model'] = None
            return fn(*args)
        return run

    ct = tool.context_times(other(real), packed, torch.zeros(1), rounds=2, busy_s=0.001)
    assert len(ct) == 6 and ct['the packed model (back to back)'] < 0.005
    assert ct['the float model'] >= 0.01
