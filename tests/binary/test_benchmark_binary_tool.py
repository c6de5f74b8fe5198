"""tools/benchmark_binary.py: the variants it times are the layers they name (the int8 and
float forward convolutions among them), and a quick run reports every variant."""
import torch


def test_f32conv_variants_turn_the_int8_forward_off_and_nothing_else(load_tool):
    tool = load_tool('benchmark_binary.py')
    int8, f32 = tool.build('chw', 8, 6), tool.build('chw_f32conv', 8, 6)
    assert int8.int8_forward and not f32.int8_forward
    assert int8.native_ops and f32.native_ops and int8.fuse_sign and f32.fuse_sign
    assert 'chw_f32conv' not in tool.DEFAULT_VARIANTS


def test_a_quick_run_times_every_variant(load_tool, capsys):
    tool = load_tool('benchmark_binary.py')
    threads = torch.get_num_threads()
    try:
        results = tool.main(['--quick', '--rounds', '1', '--warmup', '0', '--variants', 'none',
                             'channel', 'channel_f32conv'])
    finally:
        torch.set_num_threads(threads)
    (times, ) = results.values()
    assert set(times) == {'float', 'none', 'channel', 'channel_f32conv'}
    assert all(t > 0 for t in times.values())
    assert '| channel_f32conv |' in capsys.readouterr().out
