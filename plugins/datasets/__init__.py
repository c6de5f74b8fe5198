"""Embedded data generators and dataset classes."""
from .generators import DATA_GENERATORS

__all__ = ['DATA_GENERATORS']
from .decathlon import DecathlonDataset, ImageFolderDataset  # noqa: E402
from .digits import DigitsDataset  # noqa: E402
from . import synthetic_pose  # noqa: E402,F401  (registers 'mpii_synthetic')
from . import face_parts, lsp  # noqa: E402,F401  (face parts / LSP, issue 4)
