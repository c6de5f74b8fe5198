"""Every ``bash``/``sh``/``python`` block of README.md and docs/*.md runs as written, or -- for
the long ones -- resolves.

Each block is one test, named ``<file>:<line>``; a failure says which command of the block
failed and why, and ``pytest -ra`` lists them all at the end. What is done with a block:

- **shell commands**, one per line (``\\`` continuations joined, ``# comments`` dropped,
  ``P=...`` variables substituted, ``python``/``.venv/bin/python`` = this interpreter), run
  from a sandbox: a temporary folder with links to the repository's ``plugins``, ``tools``,
  ``configs``, ``Makefile`` and a fresh ``data/`` and ``work_dirs/``, so that nothing in the
  checkout changes.

  - *short* commands (:data:`SHORT`: listing generators, the small generators, complexity,
    a random-init export) run as written, in the sandbox (a Python tool in this process, as
    ``python tools/x.py ...`` would run it, to spare the interpreter start-up);
  - a usage line (``CONFIG``, ``[--flag ...]`` placeholders): the tool exists and its
    ``--help`` names every flag used;
  - every other command (trainings, evaluations, benchmarks, installs): the tool exists, its
    own argument parser accepts the arguments (parsed, not run), every config it names exists
    and resolves through the tools' loader with its ``--cfg-options``, every input path exists
    in the repository or is written by a command documented before it (a generator's
    ``--out``, a training's work dir), and a checkpoint ``work_dirs/<name>/{epoch,iter}_N.pth``
    is one that a documented training of that work dir (or ``make main``) writes;
  - ``make X``: the Makefile has target ``X``.

- **python blocks**: a block made only of assignments is a config fragment: it is written to a
  temporary file inside ``configs/`` (in the folder its first-line comment names, e.g.
  ``# configs/pose/my_config.py``) and resolved with ``mmengine.Config.fromfile``. Any other
  block is executed in a fresh namespace from the sandbox folder.

The commands that run are marked ``slow`` (``-m 'not slow'`` keeps only the static checks).
No environment variable changes what runs: the long commands are never run here.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import glob
import hashlib
import importlib.util
import io
import os
import os.path as osp
import re
import runpy
import shlex
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DOCS = ['README.md'] + sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'docs',
                                                                                 '*.md')))
LANGS = ('bash', 'sh', 'python')
FENCE = re.compile(r'^```([A-Za-z]*)[^\n]*\n(.*?)^```', re.M | re.S)
#: commands run as written (seconds each): regular expressions on the normalised command
SHORT = [r'tools/generate_data\.py --list\b',
         r'tools/generate_data\.py (face_parts_synthetic|faces_sr_synthetic)\b',
         r'tools/analysis/complexity\.py configs/',
         r'tools/export_binary\.py \S+ --random-init\b']
#: python blocks not executed (too long for a test): (file, text in the block, why)
LONG_PYTHON = [('docs/datasets.md', "('mpii_synthetic')('data/mpii_embedded'",
                'writes the 4500-image embedded set'),
               ('docs/tensor.md', 'factorize(model, dict(type=', 'decomposes two whole '
                'ResNet-18s: 86 s on one thread under load (CP-ALS, layers 1-3: ~25 s since '
                'issue 16 item 7; Tucker HOOI of layers 3-4: ~60 s)')]
PLACEHOLDER = re.compile(r'^(CONFIG|CHECKPOINT|CKPT|NPROC|DIR|\.\.\.|k=v)$|^\[')


def _blocks() -> List[Tuple[str, int, str, str]]:
    out = []
    for rel in DOCS:
        text = open(osp.join(ROOT, rel)).read()
        for m in FENCE.finditer(text):
            if m.group(1) in LANGS:
                out.append((rel, text[:m.start()].count('\n') + 1, m.group(1), m.group(2)))
    return out


BLOCKS = _blocks()


# --- shell commands --------------------------------------------------------------------------

def _commands(body: str) -> List[str]:
    """One string per command: continuations joined, comments and blank lines dropped,
    ``NAME=value`` lines substituted into later ``$NAME``."""
    joined = re.sub(r'\\\n\s*', ' ', body)
    env: Dict[str, str] = {}
    cmds = []
    for line in joined.splitlines():
        line = re.sub(r'(^|\s)#.*$', '', line).strip()
        if not line:
            continue
        m = re.fullmatch(r'([A-Za-z_]\w*)=(\S+)', line)
        if m:
            env[m.group(1)] = m.group(2)
            continue
        for k, v in env.items():
            line = line.replace('$' + k, v)
        cmds.append(line)
    return cmds


def _argv(cmd: str) -> List[str]:
    """The command's words; a leading ``time`` and ``VAR=value`` prefixes dropped."""
    words = shlex.split(cmd)
    while words and (words[0] == 'time' or re.fullmatch(r'[A-Za-z_]\w*=\S*', words[0])):
        words.pop(0)
    return words


def _is_python(word: str) -> bool:
    return word in ('python', 'python3') or word.endswith('/python') or word.endswith(
        '/python3')


class _Parsed(Exception):
    pass


@contextlib.contextmanager
def _in_dir(path: str):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _tool_parser(script: str) -> argparse.ArgumentParser:
    """The argparse parser a tool builds: its ``main`` is run until it parses arguments."""
    spec = importlib.util.spec_from_file_location(
        '_doc_tool_' + hashlib.md5(script.encode()).hexdigest()[:8], osp.join(ROOT, script))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    captured = {}
    real = argparse.ArgumentParser.parse_args

    def capture(self, args=None, namespace=None):
        captured['parser'] = self
        raise _Parsed

    argparse.ArgumentParser.parse_args = capture
    old_argv = sys.argv
    sys.argv = [script]
    try:
        entry = getattr(mod, 'parse_args', None) or mod.main
        try:
            entry([])
        except _Parsed:
            pass
        except TypeError:
            try:
                entry()
            except _Parsed:
                pass
    finally:
        argparse.ArgumentParser.parse_args = real
        sys.argv = old_argv
    if 'parser' not in captured:
        raise AssertionError(f'{script} builds no argparse parser in main()/parse_args()')
    return captured['parser']


def _parse(parser: argparse.ArgumentParser, args: List[str]) -> argparse.Namespace:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return parser.parse_args(args)
    except SystemExit:
        raise AssertionError(f'its argument parser rejects {args}: '
                             f'{err.getvalue().strip().splitlines()[-1:]}') from None


def _help(parser: argparse.ArgumentParser) -> str:
    return parser.format_help()


def _load_config(path: str, options: Optional[dict] = None):
    from plugins.engine.config_rebind import load_config, merge_cfg_options
    cfg = load_config(osp.join(ROOT, path))
    if options:
        merge_cfg_options(cfg, options)
    return cfg


def _work_dir_of(config: str, argv: List[str], cfg) -> str:
    if '--work-dir' in argv:
        return osp.normpath(argv[argv.index('--work-dir') + 1])
    return osp.normpath(cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(config))[0]))


def _checkpoints(cfg) -> List[str]:
    """The checkpoint names a config's training writes (every ``interval`` and the last)."""
    tc = cfg.train_cfg
    hook = cfg.default_hooks.get('checkpoint', {})
    by_epoch = tc.get('by_epoch', tc.get('type', 'EpochBasedTrainLoop') != 'IterBasedTrainLoop')
    last = tc.get('max_epochs') if by_epoch else tc.get('max_iters')
    interval = hook.get('interval', 1) or 1
    prefix = 'epoch' if by_epoch else 'iter'
    steps = set(range(interval, last + 1, interval)) | {last}
    return [f'{prefix}_{n}.pth' for n in sorted(steps)]


class _Produced:
    """What documented commands write: generator outputs and training work dirs."""

    def __init__(self):
        self.paths: List[str] = []
        self.trainings: Dict[str, List[str]] = {}  # work dir -> checkpoint names

    def add_training(self, config: str, argv: List[str], cfg) -> None:
        self.trainings.setdefault(_work_dir_of(config, argv, cfg), []).extend(_checkpoints(cfg))

    def has(self, path: str) -> bool:
        path = osp.normpath(path)
        return any(path == p or path.startswith(p + os.sep) for p in self.paths + list(
            self.trainings))


def _main_job_training(produced: _Produced) -> None:
    """``make main`` trains configs/pose/binary_hg_mpii.py into work_dirs/binary_hg_mpii."""
    text = open(osp.join(ROOT, 'tools', 'main_job.sh')).read()
    config = re.search(r'CONFIG=\S*?(configs/[\w/.-]+\.py)', text)
    if config and 'WORK_DIR=${2:-work_dirs/$(basename "$CONFIG" .py)}' in text:
        work = osp.join('work_dirs', osp.splitext(osp.basename(config.group(1)))[0])
        produced.trainings.setdefault(work, []).extend(_checkpoints(_load_config(
            config.group(1))))
    data = re.search(r'DATA=\S*?(data/[\w./-]+)', text)
    if data:
        produced.paths.append(osp.normpath(data.group(1).strip('"')))


def _check_static(argv: List[str], produced: _Produced) -> None:
    """Checks of a long command that is not run (see the module docstring)."""
    if argv[0] == 'make':
        targets = re.findall(r'^([\w.-]+):', open(osp.join(ROOT, 'Makefile')).read(), re.M)
        missing = [t for t in argv[1:] if t not in targets]
        assert not missing, f'Makefile has no target {missing} (targets: {targets})'
        if 'main' in argv[1:]:
            _main_job_training(produced)
        return
    if argv[0] == 'bash':
        assert osp.isfile(osp.join(ROOT, argv[1])), f'{argv[1]} does not exist'
        return
    if _is_python(argv[0]) and argv[1:3] == ['-m', 'pytest']:
        paths = [a.split('::')[0] for a in argv[3:] if not a.startswith('-')]
        missing = [p for p in paths if not osp.exists(osp.join(ROOT, p))]
        assert not missing, f'pytest paths {missing} do not exist'
        return
    assert _is_python(argv[0]), f'unknown kind of command {argv[0]!r}'
    script, args = argv[1], argv[2:]
    assert osp.isfile(osp.join(ROOT, script)), f'{script} does not exist'
    parser = _tool_parser(script)
    if any(PLACEHOLDER.search(a) for a in args):  # a usage line: flags must exist
        flags = {a.strip('[]').split('=')[0] for a in args if a.strip('[').startswith('--')}
        text = _help(parser)
        unknown = sorted(f for f in flags if f not in text)
        assert not unknown, f'{script} --help does not list {unknown}'
        return
    ns = _parse(parser, args)
    options = getattr(ns, 'cfg_options', None)
    configs = [a for a in args if a.startswith('configs/') and a.endswith('.py')]
    for config in configs:
        assert osp.isfile(osp.join(ROOT, config)), f'config {config} does not exist'
        cfg = _load_config(config, options)
        if osp.basename(script) == 'train.py':
            produced.add_training(config, args, cfg)
    out = getattr(ns, 'out', None)
    outputs = {v for k, v in vars(ns).items() if isinstance(v, str) and (
        k.startswith('out') or k == 'side_by_side')}
    for a in args:  # outputs (--out, out_dir ...) are written, not read
        if a.startswith('-') or a in configs or a in outputs or a == script:
            continue
        if re.match(r'(data|work_dirs)/', a):
            m = re.fullmatch(r'(work_dirs/.+)/((?:epoch|iter)_\d+\.pth)', a)
            if m:
                written = produced.trainings.get(osp.normpath(m.group(1)))
                assert written is not None, (
                    f'{a}: no documented training (in README.md/docs or make main) writes '
                    f'{m.group(1)}')
                assert m.group(2) in written, (
                    f'{a}: the documented training of {m.group(1)} writes {written}, not '
                    f'{m.group(2)}')
            elif not osp.exists(osp.join(ROOT, a)) and a != getattr(ns, 'work_dir', None):
                assert produced.has(a), f'{a} is neither in the repository nor written by a ' \
                    'command documented before it'
    if out and re.match(r'(data|work_dirs)/', out):
        produced.paths.append(osp.normpath(out))
    work_dir = getattr(ns, 'work_dir', None)
    if work_dir:
        produced.paths.append(osp.normpath(work_dir))


@pytest.fixture(scope='module')
def sandbox(tmp_path_factory) -> str:
    """A folder that looks like the repository root; writes land in it, not in the checkout."""
    box = str(tmp_path_factory.mktemp('docs_sandbox'))
    for name in ('plugins', 'tools', 'configs', 'Makefile', 'README.md', 'docs', 'setup.cfg'):
        os.symlink(osp.join(ROOT, name), osp.join(box, name))
    for name in ('data', 'work_dirs'):
        os.makedirs(osp.join(box, name))
    return box


def _run(cmd: str, argv: List[str], box: str) -> None:
    """Run a command from the sandbox: a Python tool in this process (as ``python tool.py``
    would: ``__main__``, its own ``sys.argv``), anything else as a subprocess."""
    if _is_python(argv[0]) and argv[1].endswith('.py'):
        old_argv, out = sys.argv, io.StringIO()
        sys.argv = argv[1:]
        try:
            with _in_dir(box), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                runpy.run_path(osp.join(box, argv[1]), run_name='__main__')
        except SystemExit as e:
            assert e.code in (0, None), f'exit {e.code}: {out.getvalue().strip()[-1500:]}'
        finally:
            sys.argv = old_argv
        return
    if _is_python(argv[0]):
        argv = [sys.executable] + argv[1:]
    env = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
               OMP_NUM_THREADS='1')
    res = subprocess.run(argv, cwd=box, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (f'exit {res.returncode}: '
                                 f'{(res.stderr or res.stdout).strip()[-1500:]}')


def _shell_block(rel: str, line: int, body: str, box: Optional[str]) -> None:
    produced = _Produced()
    for path in _documented_before(rel, line):
        produced.paths.append(path)
    for name in _trainings_documented_anywhere():
        produced.trainings.setdefault(name[0], []).extend(name[1])
    failures = []
    for cmd in _commands(body):
        argv = _argv(cmd)
        short = any(re.search(p, ' '.join(argv)) for p in SHORT)
        try:
            if short:
                if box is None:
                    continue
                _run(cmd, argv, box)
            else:
                _check_static(argv, produced)
        except AssertionError as e:
            failures.append(f'`{cmd}`: {e}')
        except Exception as e:  # noqa: BLE001 -- report every command of the block
            failures.append(f'`{cmd}`: {type(e).__name__}: {e}')
    # one line, so that the summary of `pytest -ra` shows the whole reason
    assert not failures, f'{rel}:{line}: ' + ' || '.join(failures)



def _documented_before(rel: str, line: int) -> List[str]:
    """``--out``/``--work-dir`` paths of commands in blocks before ``rel:line`` (any file read
    before it: README, then docs in order), plus what ``make main`` writes."""
    out = []
    for f, n, lang, body in BLOCKS:
        if (DOCS.index(f), n) >= (DOCS.index(rel), line):
            break
        if lang == 'python':
            continue
        for cmd in _commands(body):
            words = _argv(cmd)
            for flag in ('--out', '--work-dir'):
                if flag in words and words.index(flag) + 1 < len(words):
                    out.append(osp.normpath(words[words.index(flag) + 1]))
    return out


_TRAININGS: List[Tuple[str, List[str]]] = []


def _trainings_documented_anywhere() -> List[Tuple[str, List[str]]]:
    """(work dir, checkpoints) of every ``tools/train.py CONFIG`` in README/docs and of
    ``make main``."""
    if _TRAININGS:
        return _TRAININGS
    produced = _Produced()
    _main_job_training(produced)
    for _, _, lang, body in BLOCKS:
        if lang == 'python':
            continue
        for cmd in _commands(body):
            argv = _argv(cmd)
            if len(argv) > 2 and _is_python(argv[0]) and argv[1].endswith('tools/train.py') \
                    and argv[2].startswith('configs/') and osp.isfile(osp.join(ROOT, argv[2])):
                try:
                    ns = _parse(_tool_parser('tools/train.py'), argv[2:])
                    produced.add_training(argv[2], argv[2:], _load_config(argv[2],
                                                                          ns.cfg_options))
                except Exception:  # noqa: BLE001 -- that block's own test reports it
                    pass
    _TRAININGS.extend(produced.trainings.items())
    return _TRAININGS


# --- python blocks -----------------------------------------------------------------------------

def _is_config(tree: ast.Module) -> bool:
    return bool(tree.body) and all(isinstance(s, ast.Assign) for s in tree.body)


def _python_block(rel: str, line: int, body: str, box: str) -> None:
    try:
        tree = ast.parse(body)
    except SyntaxError as e:
        raise AssertionError(f'{rel}:{line}: not valid Python: {e}') from None
    if _is_config(tree):
        m = re.match(r'#\s*(configs/[\w/.-]+\.py)', body)
        folder = osp.join(ROOT, osp.dirname(m.group(1)) if m else 'configs')
        os.makedirs(folder, exist_ok=True)
        path = osp.join(folder, f'_docs_snippet_{hashlib.md5(body.encode()).hexdigest()[:8]}.py')
        with open(path, 'w') as f:
            f.write(body)
        try:
            from mmengine.config import Config
            Config.fromfile(path)
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f'{rel}:{line}: the config fragment does not resolve: '
                                 f'{type(e).__name__}: {e}') from None
        finally:
            os.remove(path)
        return
    for f, text, why in LONG_PYTHON:
        if f == rel and text in body:
            compile(body, f'{rel}:{line}', 'exec')
            return  # not run: see LONG_PYTHON
    with _in_dir(box), _fresh_default_scope():
        try:
            exec(compile(body, f'{rel}:{line}', 'exec'), {'__name__': '__docs__'})
        except Exception as e:  # noqa: BLE001
            raise AssertionError(f'{rel}:{line}: the Python block fails: '
                                 f'{type(e).__name__}: {e}') from None


@contextlib.contextmanager
def _fresh_default_scope():
    """No mmengine default scope while a block runs, as in a new interpreter: an earlier test
    of the session may have set one (``init_default_scope('mmpose')``, a Runner), and a
    registry's ``build`` then looks the type up in that scope's registry instead."""
    from mmengine.registry import DefaultScope
    saved = DefaultScope._instance_dict.copy()
    DefaultScope._instance_dict.clear()
    try:
        yield
    finally:
        DefaultScope._instance_dict.clear()
        DefaultScope._instance_dict.update(saved)


# --- tests -------------------------------------------------------------------------------------

def _id(block) -> str:
    return f'{block[0]}:{block[1]}'


def _runs(block) -> bool:
    """Blocks that execute something (marked slow)."""
    rel, _, lang, body = block
    if lang == 'python':
        try:
            return not _is_config(ast.parse(body))
        except SyntaxError:
            return False
    return any(re.search(p, ' '.join(_argv(c))) for c in _commands(body) for p in SHORT)


def test_snippets_are_collected():
    assert len(BLOCKS) >= 20 and {b[0] for b in BLOCKS} >= {'README.md', 'docs/pose.md'}


@pytest.mark.parametrize('block', [pytest.param(b, id=_id(b), marks=pytest.mark.slow)
                                   if _runs(b) else pytest.param(b, id=_id(b))
                                   for b in BLOCKS])
def test_doc_snippet(block, sandbox):
    rel, line, lang, body = block
    if lang == 'python':
        _python_block(rel, line, body, sandbox)
    else:
        _shell_block(rel, line, body, sandbox)
