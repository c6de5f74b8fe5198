"""Embedded data generators and dataset classes."""
from .generators import DATA_GENERATORS

__all__ = ['DATA_GENERATORS']
