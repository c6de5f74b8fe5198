"""Packed model files: round trip, size report, and rejection of corrupt/mismatched files."""
import json
import struct

import pytest
import torch
from torch import nn

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d
from plugins.deploy import (FORMAT_VERSION, PackedBinaryConv2d, PackedFileError, export_binary,
                            load_packed, read_header, save_packed, size_report)


def small_model(width=32, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width),
                         BinaryConv2d(width, width, 3, padding=1, scale='learned'),
                         nn.BatchNorm2d(width),
                         BinaryConv2d(width, width, 3, padding=1, scale='xnor'),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 4)).eval()


@pytest.fixture
def packed_file(tmp_path):
    model = small_model()
    path = tmp_path / 'model.bnn'
    save_packed(export_binary(model), path, meta=dict(config='test'))
    return model, path


def test_round_trip_and_sizes(packed_file):
    model, path = packed_file
    x = torch.randn(2, 3, 8, 8)
    loaded = load_packed(path, model=small_model(seed=1), expect=model)
    assert not loaded.training
    assert not any(isinstance(m, BinaryConv2d) for m in loaded.modules())
    assert sum(isinstance(m, PackedBinaryConv2d) for m in loaded.modules()) == 2
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=1e-4, atol=1e-5)
    header = read_header(path)
    assert header['version'] == FORMAT_VERSION and header['meta'] == dict(config='test')
    assert header['sizes']['binary_params'] == 2 * 32 * 32 * 9
    rep = size_report(model, path)
    assert rep['packed_file_bytes'] < rep['float_bytes'] and rep['ratio'] > 1


def test_packed_weights_are_one_bit(tmp_path):
    big = small_model(width=256)
    path = tmp_path / 'big.bnn'
    save_packed(export_binary(big), path)
    rep = size_report(big, path)
    bits = 2 * 256 * 256 * 9
    assert rep['binary_params'] == bits
    # float checkpoint holds 32 bits per binary weight; the file ~1 bit + real layers + pickle
    assert rep['float_bytes'] > bits * 4
    assert rep['packed_file_bytes'] < bits / 8 + 64 * 1024
    assert rep['ratio'] > 15


def _corrupt(path, fn):
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(fn(data)))


def test_flipped_payload_byte_is_rejected(packed_file):
    _, path = packed_file

    def flip(d):
        d[-100] ^= 0x01
        return d

    _corrupt(path, flip)
    with pytest.raises(PackedFileError, match='checksum mismatch'):
        load_packed(path, model=small_model())


def test_truncated_file_is_rejected(packed_file):
    _, path = packed_file
    _corrupt(path, lambda d: d[:-10])
    with pytest.raises(PackedFileError, match='truncated'):
        load_packed(path, model=small_model())
    _corrupt(path, lambda d: d[:5])
    with pytest.raises(PackedFileError, match='too short'):
        load_packed(path, model=small_model())


def test_not_a_packed_file_is_rejected(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(small_model().state_dict(), path)
    with pytest.raises(PackedFileError, match='not a packed binary model file'):
        load_packed(path)


def test_other_format_version_is_rejected(packed_file):
    _, path = packed_file
    _corrupt(path, lambda d: d[:8] + struct.pack('<I', FORMAT_VERSION + 1) + d[12:])
    with pytest.raises(PackedFileError, match=f'version {FORMAT_VERSION + 1}'):
        load_packed(path, model=small_model())


def test_header_inconsistent_with_payload_is_rejected(packed_file):
    _, path = packed_file
    data = path.read_bytes()
    hlen = struct.unpack_from('<I', data, 12)[0]
    header = json.loads(data[16:16 + hlen])
    header['layers']['2']['out_channels'] = 33
    head = json.dumps(header, sort_keys=True).encode()
    path.write_bytes(data[:12] + struct.pack('<I', len(head)) + head + data[16 + hlen:])
    with pytest.raises(PackedFileError, match=r"does not match its header: 2\.out_channels"):
        load_packed(path, model=small_model())


def test_file_of_another_architecture_is_rejected(packed_file):
    _, path = packed_file
    with pytest.raises(PackedFileError, match='does not match the given model'):
        load_packed(path, model=small_model(), expect=small_model(width=16))


def test_save_needs_an_exported_model(tmp_path):
    with pytest.raises(ValueError, match='export_binary'):
        save_packed(small_model(), tmp_path / 'x.bnn')


def test_loaded_model_runs_on_the_torch_backend_too(packed_file):
    from plugins.deploy import set_backend
    model, path = packed_file
    x = torch.randn(1, 3, 8, 8)
    loaded = set_backend(load_packed(path, model=model), 'torch')
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match='allowed'):
        set_backend(loaded, 'cuda')
