"""Set-up of the deploy tool tests (tools/export_binary.py, tools/deploy_check.py)."""
import importlib.util
import os.path as osp
from types import SimpleNamespace

import pytest

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
