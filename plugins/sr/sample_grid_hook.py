"""Save sample grids of the generators while the SR GANs train.

Every ``interval`` iterations (and after the last one) the hook calls the model's
``sample_grid(batch)`` on a fixed batch (the first training batch, or the first batch of the
validation loader) and writes the rows, tiled by :func:`~plugins.sr.side_by_side.tile_rows`,
to ``<work_dir>/<out_dir>/iter_<n>.png``. Rows of the High-to-Low GAN: HR, bicubic LR,
generated LR (two noise draws), real LR; of the Low-to-High GAN: degraded HR, its SR, HR, a real
LR, its bicubic upsampling, its SR.
"""
from __future__ import annotations

import os
import os.path as osp

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torchvision.utils import save_image

from .side_by_side import tile_rows

__all__ = ['SRSampleGridHook']


@HOOKS.register_module()
class SRSampleGridHook(Hook):
    """Write sample grids during training.

    Args:
        interval: iterations between two grids.
        num_samples: images per row.
        out_dir: folder under the work dir.
        source: ``'val'`` (first validation batch, e.g. real LR test images) or ``'train'``.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 100, num_samples: int = 8, out_dir: str = 'samples',
                 source: str = 'val') -> None:
        if interval < 1 or num_samples < 1:
            raise ValueError(f'interval and num_samples must be >= 1, got {interval}, '
                             f'{num_samples}')
        if source not in ('val', 'train'):
            raise ValueError(f"source must be 'val' or 'train', got {source!r}")
        self.interval, self.num_samples, self.out_dir, self.source = (interval, num_samples,
                                                                      out_dir, source)
        self._batch: dict | None = None
        self.saved: list[str] = []

    def _fixed_batch(self, runner) -> dict:
        if self._batch is None:
            loader = runner.train_dataloader
            if self.source == 'val' and runner.val_loop is not None:
                loader = runner.val_dataloader
            batch = next(iter(loader))
            self._batch = {k: v[:self.num_samples] for k, v in batch.items()}
        return self._batch

    def _save(self, runner, tag: str) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'sample_grid'):
            raise TypeError(f'SRSampleGridHook needs a model with sample_grid(batch); '
                            f'{type(model).__name__} has none')
        was_training = model.training
        model.eval()
        rows = model.sample_grid(self._fixed_batch(runner))
        model.train(was_training)
        path = osp.join(runner.work_dir, self.out_dir, f'{tag}.png')
        os.makedirs(osp.dirname(path), exist_ok=True)
        save_image(tile_rows(rows), path)
        self.saved.append(path)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval) or self.is_last_train_iter(runner):
            self._save(runner, f'iter_{runner.iter + 1}')
