"""Data-loader workers that exit when their trainer dies.

A trainer killed with ``kill -9`` cannot tell its data-loader workers to stop; torch's
workers notice only when they next poll their parent (every 5 s, and not while busy), and a
persistent worker blocked on a full result pipe may never. On Linux, each worker asks the
kernel for ``SIGKILL`` when its parent dies (``prctl(PR_SET_PDEATHSIG)``).
:class:`ExitWithParent` does this before the data loader's own ``worker_init_fn``;
``plugins.compat`` installs it on every data loader the mmengine Runner builds.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Callable, Optional

__all__ = ['ExitWithParent', 'exit_with_parent']

PR_SET_PDEATHSIG = 1


def exit_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> bool:
    """Make this process receive ``sig`` when its parent dies (Linux); exit now if the parent
    ``parent_pid`` is already gone.

    Args:
        parent_pid: pid of the process that started this one.
        sig: signal to receive.

    Returns:
        True if the request was installed (False on other systems).
    """
    if not sys.platform.startswith('linux'):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:  # the parent died before prctl ran
        os._exit(1)
    return True


class ExitWithParent:
    """A ``worker_init_fn`` that calls :func:`exit_with_parent`, then ``inner`` (picklable, so
    it also works with the ``spawn`` start method).

    Args:
        inner: the data loader's original ``worker_init_fn`` (or None).
        parent_pid: the trainer's pid (default: the current process).
    """

    def __init__(self, inner: Optional[Callable[[int], None]] = None,
                 parent_pid: Optional[int] = None) -> None:
        self.inner = inner
        self.parent_pid = os.getpid() if parent_pid is None else parent_pid

    def __call__(self, worker_id: int) -> None:
        exit_with_parent(self.parent_pid)
        if self.inner is not None:
            self.inner(worker_id)
