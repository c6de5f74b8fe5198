"""Registry of the embedded data-set generators that ``tools/generate_data.py`` runs.

A generator is a function ``fn(out_dir: str, *, seed: int = 0, **options) -> dict`` that
writes a small data set in a standard format under ``out_dir`` and returns a summary (paths,
counts). Register one with ``@DATA_GENERATORS.register_module(name='...')``.
"""
from mmengine.registry import Registry

DATA_GENERATORS = Registry('data generator')
