"""tools/generate_data.py shows progress: the files written so far (issue 16 item 12)."""
import os
import re

from tools import generate_data


def test_progress_counts_the_files_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('PROGRESS', 'bar')
    out = tmp_path / 'faces'
    generate_data.main(['face_parts_synthetic', '--out', str(out), '--options', 'num_train=20',
                        'num_val=4', 'img_size=64'])
    err = capsys.readouterr().err
    on_disk = sum(len(files) for _, _, files in os.walk(out))
    counts = [int(n) for n in re.findall(r'files written to \S+: (\d+)file', err)]
    assert counts and counts[-1] == on_disk > 24  # the final count is every file written


def test_no_bar_and_no_line_for_short_work_outside_a_terminal(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('PROGRESS', 'log')
    generate_data.main(['face_parts_synthetic', '--out', str(tmp_path / 'f'), '--options',
                        'num_train=2', 'num_val=1', 'img_size=64'])
    assert 'files written' not in capsys.readouterr().err
