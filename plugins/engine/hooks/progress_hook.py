"""A progress bar over the batches of evaluation (``tools/test.py``) and validation."""
from __future__ import annotations

from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ..progress import Progress


@HOOKS.register_module()
class ProgressHook(Hook):
    """Shows the progress of the test (and, with ``val=True``, validation) loop with
    :class:`plugins.engine.progress.Progress` (a bar on a terminal, rare lines in logs).

    ``tools/test.py`` adds it unless the config already has one.

    Args:
        test: show the test loop.
        val: show the validation loops during training.
    """

    priority = 'VERY_LOW'

    def __init__(self, test: bool = True, val: bool = False) -> None:
        self.test, self.val = test, val
        self._bar: Optional[Progress] = None

    def _open(self, runner, loader, desc: str) -> None:
        if is_main_process():
            self._bar = Progress(total=len(loader), desc=desc, unit='batch')

    def _step(self) -> None:
        if self._bar is not None:
            self._bar.update()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def before_test_epoch(self, runner) -> None:
        if self.test:
            self._open(runner, runner.test_dataloader, 'test')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._close()

    def before_val_epoch(self, runner) -> None:
        if self.val:
            self._open(runner, runner.val_dataloader, f'val (epoch {runner.epoch})')

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._close()
