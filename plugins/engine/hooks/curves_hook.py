"""Learning curves as a picture: losses and validation metrics drawn to a PNG in the work dir."""
from __future__ import annotations

import json
import math
import os.path as osp
from collections import defaultdict
from numbers import Number
from typing import Dict, List, Optional, Sequence

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def _number(value) -> Optional[float]:
    if hasattr(value, 'item') and getattr(value, 'numel', lambda: 1)() == 1:
        value = value.item()
    if isinstance(value, Number) and math.isfinite(float(value)):
        return float(value)
    return None


@HOOKS.register_module()
class CurvesHook(Hook):
    """Draws the training losses (mean over each ``interval`` iterations, against the
    iteration) and every numeric validation metric (against the iteration it was measured
    at) into ``<work_dir>/<filename>`` after each validation, each training epoch and the
    end of training, with the points in ``<work_dir>/<filename stem>.json``. A resumed job
    continues the curves: from that JSON file, cut at the checkpoint's iteration (the
    validation at that iteration runs after the save), else from the checkpoint's ``meta``.

    On by default in ``configs/_base_/default_runtime.py``.

    Args:
        interval: iterations averaged into one loss point.
        filename: picture file name in the work dir.
        keys: loss names to draw (default: every logged value whose name contains 'loss').
    """

    priority = 'LOW'

    def __init__(self, interval: int = 10, filename: str = 'curves.png',
                 keys: Optional[Sequence[str]] = None) -> None:
        if interval < 1:
            raise ValueError(f'CurvesHook: interval must be >= 1, got {interval}')
        self.interval, self.filename = interval, filename
        self.keys = None if keys is None else list(keys)
        self.losses: Dict[str, List[list]] = defaultdict(list)   # name -> [[iter, value]]
        self.metrics: Dict[str, List[list]] = defaultdict(list)  # name -> [[iter, value]]
        self._sums: Dict[str, list] = defaultdict(lambda: [0.0, 0])

    # ----- recording ------------------------------------------------------------------------
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        for name, value in (outputs or {}).items():
            if (name in self.keys) if self.keys is not None else ('loss' in name):
                v = _number(value)
                if v is not None:
                    acc = self._sums[name]
                    acc[0] += v
                    acc[1] += 1
        if (runner.iter + 1) % self.interval == 0:
            self._flush(runner.iter + 1)

    def _flush(self, it: int) -> None:
        for name, (total, count) in self._sums.items():
            if count:
                self.losses[name].append([it, total / count])
        self._sums.clear()

    def after_val_epoch(self, runner, metrics=None) -> None:
        for name, value in (metrics or {}).items():
            v = _number(value)
            if v is not None:
                self.metrics[name].append([runner.iter, v])
        self.save(runner)

    def after_train_epoch(self, runner) -> None:
        self.save(runner)

    def after_run(self, runner) -> None:
        self._flush(runner.iter)
        self.save(runner)

    # ----- resume ---------------------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['curves'] = dict(
            losses={k: list(v) for k, v in self.losses.items()},
            metrics={k: list(v) for k, v in self.metrics.items()})

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from (fine-tuning) starts new curves
        meta = checkpoint.get('meta', {})
        saved = meta.get('curves')
        if osp.isfile(self._json(runner)):
            with open(self._json(runner)) as f:
                saved = json.load(f)
        if not saved:
            return
        last = meta.get('iter', float('inf'))
        self.losses = defaultdict(list, {k: [p for p in v if p[0] <= last]
                                         for k, v in saved['losses'].items()})
        self.metrics = defaultdict(list, {k: [p for p in v if p[0] <= last]
                                          for k, v in saved['metrics'].items()})

    def _json(self, runner) -> str:
        return osp.join(runner.work_dir, osp.splitext(self.filename)[0] + '.json')

    # ----- drawing --------------------------------------------------------------------------
    def save(self, runner) -> Optional[str]:
        """Draw the curves to ``<work_dir>/<filename>``; returns the path (None if nothing)."""
        if not is_main_process() or not (self.losses or self.metrics):
            return None
        path = osp.join(runner.work_dir, self.filename)
        with open(self._json(runner), 'w') as f:
            json.dump(dict(losses=self.losses, metrics=self.metrics), f)
        draw_curves(self.losses, self.metrics, path, title=osp.basename(runner.work_dir))
        return path


def draw_curves(losses: Dict[str, List[list]], metrics: Dict[str, List[list]], path: str,
                title: str = '') -> None:
    """Losses (left panel) and metrics (one panel each) against the iteration, as a PNG.

    Args:
        losses: name -> [[iteration, value], ...].
        metrics: name -> [[iteration, value], ...].
        path: output file.
        title: figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = ([('loss', losses)] if losses else []) + [(k, {k: v}) for k, v in metrics.items()]
    fig = Figure(figsize=(4.2 * len(panels), 3.4), layout='constrained')
    FigureCanvasAgg(fig)
    for i, (label, series) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for name, points in series.items():
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker='o' if len(xs) < 30 else None, ms=3, label=name)
        ax.set_xlabel('iteration')
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if label == 'loss':
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100)
