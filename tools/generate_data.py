"""Generate one of the embedded data sets.

    python tools/generate_data.py --list
    python tools/generate_data.py mpii_synthetic --out data/mpii_embedded \
        [--seed 0] [--options num_train=2000 img_size=128]
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import sys
import threading
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import plugins  # noqa: E402,F401  (registers the generators)
from mmengine.config import DictAction  # noqa: E402

from plugins.datasets import DATA_GENERATORS  # noqa: E402
from plugins.engine.progress import Progress  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Generate an embedded data set')
    parser.add_argument('name', nargs='?', help='generator name (see --list)')
    parser.add_argument('--out', help='output folder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--options', nargs='+', action=DictAction, default={},
                        help='generator options as key=value pairs')
    parser.add_argument('--list', action='store_true', help='list the generators and exit')
    return parser.parse_args(argv)


def _count_files(folder: str) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


@contextlib.contextmanager
def files_written(folder: str, desc: str, interval: float = 0.5):
    """Show progress as the number of files that appear under ``folder`` (the generators
    write their files themselves, some from worker processes)."""
    before = _count_files(folder) if osp.isdir(folder) else 0
    stop = threading.Event()
    with Progress(desc=desc, unit='file') as bar:

        def poll():
            while not stop.wait(interval):
                done = _count_files(folder) - before if osp.isdir(folder) else 0
                if done > bar.n:
                    bar.update(done - bar.n)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield bar
        finally:
            stop.set()
            thread.join()
            done = _count_files(folder) - before if osp.isdir(folder) else 0
            if done > bar.n:
                bar.update(done - bar.n)


def main(argv=None) -> dict:
    args = parse_args(argv)
    names = sorted(DATA_GENERATORS.module_dict)
    if args.list or not args.name:
        for name in names:
            doc = (DATA_GENERATORS.get(name).__doc__ or '').strip().splitlines()
            print(f'{name:24s} {doc[0] if doc else ""}')
        return {}
    if args.name not in DATA_GENERATORS.module_dict:
        raise SystemExit(f'unknown generator {args.name!r}; choose one of {names}')
    if not args.out:
        raise SystemExit('--out is required')
    start = time.time()
    with files_written(args.out, f'{args.name}: files written to {args.out}'):
        summary = DATA_GENERATORS.get(args.name)(args.out, seed=args.seed, **args.options)
    print(json.dumps(summary, indent=2, default=str))
    print(f'{args.name}: written to {args.out} in {time.time() - start:.1f} s')
    return summary


if __name__ == '__main__':
    main()
