"""Embedded data generators and dataset classes."""
from . import face_parts, lsp, synthetic_pose  # noqa: F401  (register datasets/generators)
from .decathlon import DecathlonDataset, ImageFolderDataset
from .digits import DigitsDataset
from .generators import DATA_GENERATORS
from .sample_data import sample_data_root

__all__ = [
    'DATA_GENERATORS', 'DecathlonDataset', 'DigitsDataset', 'ImageFolderDataset',
    'sample_data_root'
]
