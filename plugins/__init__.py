"""Binary and tensor-factorised networks for MMPose, mmengine and timm.

``import plugins`` (or ``custom_imports=dict(imports=['plugins'])`` in a config) installs the
compatibility layer (:mod:`plugins.compat`) and registers every component into the
mmengine/MMPose registries and timm's model registry.
"""
from . import compat

compat.install()

from . import analysis, binary, datasets, engine, ops, tensor  # noqa: E402,F401
from . import pose  # noqa: E402,F401
from . import cls, deploy, lipreading, sr  # noqa: E402,F401

__version__ = '0.1.0'
