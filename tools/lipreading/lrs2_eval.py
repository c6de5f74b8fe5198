"""Cross-database test: cut LRS2 word clips and evaluate an LRW-trained model on shared words.

Examples::

    # 1) cut the words of the model's vocabulary out of LRS2 sentence videos
    python tools/lipreading/lrs2_eval.py cut data/lrs2/main data/lrs2_words \
        --config configs/lipreading/lipnet_resnet18_bigru_lrw.py --frame-size 256
    # 2) evaluate the LRW checkpoint on them (per-yaw metric needs yaw metadata; overall top-1
    #    always)
    python tools/lipreading/lrs2_eval.py eval configs/lipreading/lipnet_resnet18_bigru_lrw.py \
        work_dirs/lrw/iter_X.pth data/lrs2_words --work-dir work_dirs/lrs2_eval

The vocabulary is the config's ``words`` (the LRW word list; a file path or a list). Labels of
the cut clips are indices into that vocabulary, so the model's classifier is used unchanged and
only the shared words occur.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import plugins  # noqa: E402,F401
from mmengine.config import Config, DictAction  # noqa: E402

from plugins.lipreading.dataset import read_word_list  # noqa: E402
from plugins.lipreading.lrs2 import cut_lrs2_words  # noqa: E402


def vocabulary(cfg: Config):
    words = cfg.get('words')
    if words is None:
        raise KeyError('the config has no top-level "words" (the LRW vocabulary)')
    return read_word_list(words, cfg.get('data_root', '.'))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('cut', help='cut word clips from LRS2 sentence videos')
    c.add_argument('lrs2_root')
    c.add_argument('out_root')
    c.add_argument('--config', required=True, help='LRW config (for its vocabulary)')
    c.add_argument('--num-frames', type=int, default=29)
    c.add_argument('--fps', type=float, default=25.0)
    c.add_argument('--frame-size', type=int, default=None)
    e = sub.add_parser('eval', help='evaluate a checkpoint on the cut clips')
    e.add_argument('config')
    e.add_argument('checkpoint')
    e.add_argument('data_root')
    e.add_argument('--work-dir', default='work_dirs/lrs2_eval')
    e.add_argument('--cfg-options', nargs='+', action=DictAction)
    a = p.parse_args(argv)
    if a.cmd == 'cut':
        cfg = Config.fromfile(a.config)
        counts, skipped = cut_lrs2_words(a.lrs2_root, a.out_root, vocabulary(cfg),
                                         num_frames=a.num_frames, fps=a.fps,
                                         frame_size=a.frame_size)
        for v, why in skipped:
            print(f'skipped {v}: {why}')
        print(json.dumps(counts, indent=1))
        return 0
    from mmengine.runner import Runner
    cfg = Config.fromfile(a.config)
    if a.cfg_options:
        cfg.merge_from_dict(a.cfg_options)
    present = [w for w in vocabulary(cfg) if osp.isdir(osp.join(a.data_root, w))]
    print(f'{len(present)} shared words with clips under {a.data_root}')
    ds = cfg.test_dataloader.dataset
    ds.data_root = a.data_root
    ds.split = 'test'
    ds.words = vocabulary(cfg)        # keep the model's label indices
    cfg.work_dir = a.work_dir
    cfg.load_from = a.checkpoint
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
