"""Progress of long work: a ``tqdm`` bar on a terminal, a rare plain line otherwise.

One helper for the tools (test, data generation, export, benchmarks) and for library code
that runs for minutes (``factorize()``, the data pre-flight check)::

    from plugins.engine.progress import Progress, track

    for layer in track(layers, desc='factorize', unit='layer'):
        ...

    with Progress(total=len(loader), desc='test', unit='batch') as bar:
        for batch in loader:
            ...
            bar.update()

Modes (environment variable ``PROGRESS``, else automatic):

* ``bar``: a ``tqdm`` bar on the stream (the default when the stream is a terminal and
  ``CI`` is not set);
* ``log``: no bar; one plain line at most every ``log_interval`` seconds (30 s, or 120 s
  when ``CI=true``) and a final line, both only if the work lasts longer than one interval,
  so short work in logs and CI stays quiet;
* ``off``: nothing (also on non-zero distributed ranks).
"""
from __future__ import annotations

import os
import sys
import time
from typing import IO, Iterable, Iterator, Optional, TypeVar

__all__ = ['Progress', 'track', 'progress_mode']

T = TypeVar('T')
MODES = ('bar', 'log', 'off')


def progress_mode(stream: Optional[IO] = None) -> str:
    """The mode in use for ``stream`` (default stderr): see the module docstring."""
    mode = os.environ.get('PROGRESS', '').strip().lower()
    if mode:
        if mode not in MODES:
            raise ValueError(f'PROGRESS={mode!r}: choose one of {MODES}')
        return mode
    if os.environ.get('RANK', '0') != '0' or os.environ.get('LOCAL_RANK', '0') != '0':
        return 'off'
    stream = sys.stderr if stream is None else stream
    tty = getattr(stream, 'isatty', lambda: False)()
    return 'bar' if tty and not _ci() else 'log'


def _ci() -> bool:
    return os.environ.get('CI', '').lower() in ('1', 'true', 'yes')


class Progress:
    """Progress of ``total`` steps of work (see the module docstring for the modes).

    Args:
        total: number of steps, or None when unknown.
        desc: what is being done (shown first).
        unit: name of one step (``'it'``, ``'image'``, ``'layer'`` ...).
        stream: where to write (default: stderr).
        mode: ``'bar'``, ``'log'`` or ``'off'``; default from :func:`progress_mode`.
        log_interval: seconds between lines in ``log`` mode (default 30, 120 under CI).
    """

    def __init__(self, total: Optional[int] = None, desc: str = '', unit: str = 'it',
                 stream: Optional[IO] = None, mode: Optional[str] = None,
                 log_interval: Optional[float] = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.mode = mode or progress_mode(self.stream)
        if self.mode not in MODES:
            raise ValueError(f'progress mode {self.mode!r}: choose one of {MODES}')
        self.total, self.desc, self.unit = total, desc, unit
        self.n = 0
        self.log_interval = log_interval if log_interval is not None else (
            120.0 if _ci() else 30.0)
        self.start = self._last = time.monotonic()
        self._logged = False
        self._bar = None
        if self.mode == 'bar':
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream,
                             dynamic_ncols=True, leave=True)

    def update(self, n: int = 1) -> None:
        """Mark ``n`` more steps as done."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == 'log':
            now = time.monotonic()
            if now - self._last >= self.log_interval:
                self._last = now
                self._write(self._line(now))

    def _line(self, now: float) -> str:
        done = f'{self.n}/{self.total}' if self.total else f'{self.n}'
        pct = f' ({100 * self.n / self.total:.0f}%)' if self.total else ''
        return f'{self.desc}: {done} {self.unit}{pct}, {now - self.start:.0f} s'

    def _write(self, line: str) -> None:
        self._logged = True
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """Finish: close the bar, or write the final line if any line was written."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.mode == 'log' and self._logged:
            self._write(self._line(time.monotonic()) + ' (done)')
            self._logged = False

    def __enter__(self) -> 'Progress':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(iterable: Iterable[T], total: Optional[int] = None, desc: str = '',
          unit: str = 'it', **kwargs) -> Iterator[T]:
    """Iterate over ``iterable`` showing progress (``total`` defaults to ``len(iterable)``).

    Args:
        iterable: the work items.
        total, desc, unit, **kwargs: as :class:`Progress`.

    Yields:
        the items of ``iterable``.
    """
    if total is None and hasattr(iterable, '__len__'):
        total = len(iterable)  # type: ignore[arg-type]
    with Progress(total=total, desc=desc, unit=unit, **kwargs) as bar:
        for item in iterable:
            yield item
            bar.update()
