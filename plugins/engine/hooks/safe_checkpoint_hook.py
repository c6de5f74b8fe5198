"""A checkpoint hook whose saves survive being killed at any moment."""
from __future__ import annotations

import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS


def _atomic_write_text(path: str, text: str) -> None:
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` made safe against interruption.

    mmengine's hook deletes the oldest checkpoint *before* writing the new one, and writes the
    new file in place, so a job killed while saving can be left with a truncated newest file
    and without the one before it. This hook, for local work dirs:

    1. writes the checkpoint to ``<name>.tmp`` and renames it into place (atomic on POSIX);
    2. then points ``last_checkpoint`` at it (also written atomically);
    3. only then removes checkpoints beyond ``max_keep_ckpts``.

    A killed job therefore always leaves ``last_checkpoint`` pointing at a complete file, and
    ``tools/train.py --resume`` continues from it. Arguments are those of ``CheckpointHook``.
    """

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        dropped = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            # a deque with maxlen=max_keep_ckpts: the step that falls out is pruned, but only
            # once the new checkpoint (which records the new list) is safely on disk
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                dropped = self.keep_ckpt_ids[0]
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename + '.tmp',
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        os.replace(self.last_ckpt + '.tmp', self.last_ckpt)
        _atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if dropped is not None:
            old = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(dropped))
            if osp.isfile(old):
                os.remove(old)
