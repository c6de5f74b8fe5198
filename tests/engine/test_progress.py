"""plugins.engine.progress: a bar on a terminal, rare lines in logs, nothing for short work."""
import io

import pytest

from plugins.engine import progress as progress_mod
from plugins.engine.progress import Progress, progress_mode, track


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_log_mode_writes_one_line_per_interval_and_a_final_line(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress_mod.time, 'monotonic', clock)
    out = io.StringIO()
    with Progress(total=10, desc='decode', unit='image', stream=out, mode='log',
                  log_interval=10) as bar:
        for _ in range(10):
            clock.t += 4  # 4 s per step: lines at 12 s, 24 s, 36 s (steps 3, 6, 9)
            bar.update()
    lines = out.getvalue().splitlines()
    assert lines == ['decode: 3/10 image (30%), 12 s', 'decode: 6/10 image (60%), 24 s',
                     'decode: 9/10 image (90%), 36 s', 'decode: 10/10 image (100%), 40 s (done)']


def test_short_work_in_a_log_is_silent(monkeypatch):
    out = io.StringIO()
    assert list(track(range(5), desc='x', stream=out, mode='log', log_interval=30)) == \
        list(range(5))
    assert out.getvalue() == ''


def test_bar_mode_draws_a_tqdm_bar():
    out = io.StringIO()
    for _ in track([1, 2, 3], desc='factorize', unit='layer', stream=out, mode='bar'):
        pass
    assert 'factorize' in out.getvalue() and '3/3' in out.getvalue()


def test_mode_choice(monkeypatch):
    monkeypatch.delenv('PROGRESS', raising=False)
    monkeypatch.delenv('CI', raising=False)
    monkeypatch.delenv('RANK', raising=False)
    monkeypatch.delenv('LOCAL_RANK', raising=False)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert progress_mode(Tty()) == 'bar'
    assert progress_mode(io.StringIO()) == 'log'  # not a terminal
    monkeypatch.setenv('CI', 'true')
    assert progress_mode(Tty()) == 'log'
    assert Progress(stream=io.StringIO()).log_interval == 120
    monkeypatch.setenv('RANK', '1')
    assert progress_mode(Tty()) == 'off'
    monkeypatch.setenv('PROGRESS', 'bars')
    with pytest.raises(ValueError, match="'bars'.*'bar', 'log', 'off'"):
        progress_mode()
