"""Packed files hold tensors (safetensors) and a declarative layer table: nothing is unpickled.

A file crafted to run code when loaded is refused; a model is rebuilt from the header's
config or from a given unexported model; a format-2 file committed to the repository keeps
loading (tests/deploy/data/format2_small.bnn, written by ``write_fixture`` below).
"""
import hashlib
import json
import os
import pickle
import struct
from pathlib import Path

import pytest
import torch
from torch import nn

import plugins  # noqa: F401
from plugins.binary import BinaryConv2d
from plugins.deploy import (FORMAT_VERSION, PackedFileError, export_binary, load_packed,
                            read_header, save_packed)
from plugins.deploy.packed_file import _PREFIX, MAGIC

FIXTURE = Path(__file__).parent / 'data' / 'format2_small.bnn'


class _RunsCode:
    """A pickle payload that runs a shell command when unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def _write_file(path, version, header, payload):
    header = dict(header, payload_bytes=len(payload),
                  payload_sha256=hashlib.sha256(payload).hexdigest())
    head = json.dumps(header).encode()
    path.write_bytes(_PREFIX.pack(MAGIC, version, len(head)) + head + payload)


def small_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16),
                         BinaryConv2d(16, 16, 3, padding=1, scale='learned',
                                      scale_shape='rank1', out_size=(6, 6),
                                      post_act=dict(type='ChannelPReLU')),
                         nn.BatchNorm2d(16),
                         BinaryConv2d(16, 16, 3, padding=1, scale='xnor',
                                      padding_mode='reflect'),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4)).eval()


def randomised(seed=0):
    from tests.deploy.test_deploy_export import randomise
    return randomise(small_model(seed), seed=seed)


@pytest.mark.parametrize('version', [1, FORMAT_VERSION])
def test_crafted_pickle_payload_is_refused_and_runs_nothing(tmp_path, version):
    marker = tmp_path / 'pwned'
    payload = pickle.dumps(_RunsCode(str(marker)))
    path = tmp_path / 'evil.bnn'
    header = dict(format='plugins.deploy.packed', version=version, word_bits=64, layers={},
                  modules={}, payload_format='safetensors')
    if version == 1:
        header['payload_compression'] = None
    _write_file(path, version, header, payload)
    match = 'refused' if version == 1 else 'not a valid safetensors'
    with pytest.raises(PackedFileError, match=match):
        load_packed(path, model=small_model())
    assert not marker.exists()
    # the control: the same payload does run code when unpickled (so the test can fail)
    pickle.loads(payload)
    assert marker.exists()


def test_layer_table_cannot_name_arbitrary_types(tmp_path):
    model = randomised()
    path = tmp_path / 'm.bnn'
    save_packed(export_binary(model), path)
    data = path.read_bytes()
    hlen = struct.unpack_from('<I', data, 12)[0]
    header = json.loads(data[16:16 + hlen])
    name = next(iter(header['modules']))
    header['modules'][name]['type'] = 'os.system'
    head = json.dumps(header).encode()
    path.write_bytes(data[:12] + struct.pack('<I', len(head)) + head + data[16 + hlen:])
    with pytest.raises(PackedFileError, match="type 'os.system'; allowed"):
        load_packed(path, model=small_model())


def test_rebuilt_model_reproduces_the_exported_one(tmp_path):
    """Spatial (rank-1) scale, post activation, reflect pre-padding and folded norms are all
    rebuilt from the table; the skeleton's own weights are overwritten."""
    model = randomised(seed=2)
    packed = export_binary(model)
    path = tmp_path / 'm.bnn'
    header = save_packed(packed, path)
    assert header['version'] == FORMAT_VERSION and header['payload_format'] == 'safetensors'
    assert header['folded_norms'] == ['1', '3']
    kinds = {spec['args']['scale_kind'] for spec in header['modules'].values()}
    assert kinds == {'spatial', 'channel'}
    loaded = load_packed(path, model=small_model(seed=7), expect=model)
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        assert torch.equal(loaded(x), packed(x))
        torch.testing.assert_close(loaded(x), model(x), rtol=1e-4, atol=1e-4)


def test_wrong_skeleton_is_refused(tmp_path):
    path = tmp_path / 'm.bnn'
    save_packed(export_binary(randomised()), path)
    with pytest.raises(PackedFileError, match='no model config'):
        load_packed(path)
    other = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1))
    with pytest.raises(PackedFileError, match='no module'):
        load_packed(path, model=other)


def test_model_rebuilt_from_the_header_config(tmp_path):
    from mmengine.registry import MODELS
    cfg = dict(type='StackedHourglass', num_stacks=1, depth=1, channels=16, out_channels=3,
               stem_channels=(8, 16),
               block=dict(type='HPMBlock', act_cfg=None,
                          conv_cfg=dict(type='BinaryConv2d', scale='learned')))
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')
    from tests.deploy.test_deploy_export import randomise
    model = randomise(MODELS.build(cfg).eval(), seed=4)
    path = tmp_path / 'hg.bnn'
    save_packed(export_binary(model), path, model_cfg=cfg)
    loaded = load_packed(path)  # no model given: built from the header's config
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref, out = model(x)[-1], loaded(x)[-1]
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def write_fixture(path=FIXTURE):
    """Regenerate the committed format-2 fixture (only when the format changes on purpose)."""
    path.parent.mkdir(exist_ok=True)
    save_packed(export_binary(randomised(seed=11)), path, meta=dict(fixture=True))


def test_committed_format2_file_keeps_loading():
    header = read_header(FIXTURE)
    assert header['version'] == 2 and header['meta'] == dict(fixture=True)
    model = randomised(seed=11)
    loaded = load_packed(FIXTURE, model=small_model(), expect=model)
    x = torch.randn(1, 3, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=1e-4, atol=1e-4)
