"""Set-up of the deploy tests: the tool loader (tools/export_binary.py, tools/deploy_check.py)
and a fixture that makes the kernel use two threads on every layer."""
import ctypes
import importlib.util
import os.path as osp
from types import SimpleNamespace

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture
def deploy_tool():
    """``deploy_tool('export_binary')``: the tool module loaded from tools/, with ``CONFIG``
    (the binary hourglass config the tests export) beside it."""

    def load(name: str) -> SimpleNamespace:
        spec = importlib.util.spec_from_file_location(f'{name}_tool',
                                                      osp.join(ROOT, 'tools', f'{name}.py'))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mod.CONFIG = osp.join(ROOT, 'configs', 'pose', 'binary_hg_mpii.py')
        return mod

    return load


@pytest.fixture
def two_threads_everywhere():
    """Two threads, and small layers really use both (the kernel caps threads by work)."""
    from plugins.deploy import load_library
    lib, threads = load_library(), torch.get_num_threads()
    lib.bnn_set_min_work_per_thread(ctypes.c_longlong(1))
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)
    lib.bnn_set_min_work_per_thread(ctypes.c_longlong(0))
