"""A few iterations of both SR stages through mmengine's Runner, from the shipped configs."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import plugins  # noqa: F401
from plugins.datasets import DATA_GENERATORS
from plugins.sr import LowToHighGAN, SubnetOptimWrapperConstructor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_G_HL = dict(channels=4, noise_dim=8, blocks_per_group=1)
TINY_D = dict(channels=4, num_blocks=4)
TINY_G_LH = dict(channels=4, blocks_per_group=(1, 0, 0))


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('faces_sr'))
    DATA_GENERATORS.get('faces_sr_synthetic')(root, seed=0, num_train_hr=8, num_train_lr=8,
                                              num_test=4)
    return root


def _cfg(name: str, data_root: str, work_dir: str, iters: int = 3) -> Config:
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sr', f'{name}.py'))
    cfg.work_dir = work_dir
    cfg.experiment_name = f'{name}_{osp.basename(work_dir)}'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].batch_size = 4
        cfg[key].dataset.data_root = data_root
        cfg[key].dataset.auto_generate = None
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='SRNumThreadsHook', num_threads=1),
                        dict(type='SRSampleGridHook', interval=2, num_samples=2)]
    cfg.model.generator.update(TINY_G_LH if 'low_to_high' in name else TINY_G_HL)
    cfg.model.discriminator.update(TINY_D)
    if cfg.model.get('degrader'):
        cfg.model.degrader.update(TINY_G_HL)
    return cfg


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()
            if v.is_floating_point() and not k.endswith(('_u', '_v'))}


def _changed(before, module):
    after = module.state_dict()
    return [k for k, v in before.items() if not torch.equal(v, after[k])]


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    g0, d0 = _snapshot(runner.model.generator), _snapshot(runner.model.discriminator)
    runner.train()
    assert _changed(g0, runner.model.generator), 'generator was not updated'
    assert _changed(d0, runner.model.discriminator), 'discriminator was not updated'
    return runner


@pytest.fixture(scope='module')
def stage1(data_root, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('hl'))
    return _train(_cfg('high_to_low_faces64', data_root, work_dir)), work_dir


def test_stage1_updates_both_networks_and_writes_outputs(stage1):
    runner, work_dir = stage1
    wrappers = runner.optim_wrapper
    assert set(wrappers.keys()) == {'generator', 'discriminator'}
    g_params = {id(p) for p in runner.model.generator.parameters()}
    d_opt_params = {id(p) for g in wrappers['discriminator'].optimizer.param_groups
                    for p in g['params']}
    assert not g_params & d_opt_params  # one optimiser per network
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
    assert osp.isfile(osp.join(work_dir, 'samples', 'iter_2.png'))
    assert osp.isfile(osp.join(work_dir, 'samples', 'iter_3.png'))
    metrics = runner.message_hub.get_scalar('val/hl/fd_patch')
    assert metrics is not None and metrics.current() >= 0


def test_stage2_loads_stage1_generator_and_trains(stage1, data_root, tmp_path):
    runner1, work_dir1 = stage1
    cfg = _cfg('low_to_high_faces64', data_root, str(tmp_path / 'lh'))
    cfg.model.degrader_checkpoint = work_dir1  # the work dir: its last_checkpoint is followed
    runner = _train(cfg)
    model = runner.model
    assert model.degrader_loaded_from == osp.join(work_dir1, 'iter_3.pth')
    trained = runner1.model.generator.state_dict()
    for key, value in model.degrader.state_dict().items():
        assert torch.equal(value, trained[key]), key  # stage-1 weights, untouched by stage 2
    assert not any(p.requires_grad for p in model.degrader.parameters())
    assert runner.message_hub.get_scalar('val/lh/psnr').current() > 0


def test_bicubic_baseline_config_trains(data_root, tmp_path):
    cfg = _cfg('low_to_high_bicubic_faces64', data_root, str(tmp_path / 'bic'), iters=2)
    runner = _train(cfg)
    assert runner.model.degrader is None and runner.model.lr_source == 'bicubic'


def test_stage2_bad_checkpoint_errors(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sr', 'low_to_high_faces64.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('type')
    model_cfg['degrader_checkpoint'] = str(tmp_path / 'missing_work_dir')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        LowToHighGAN(**model_cfg)
    (tmp_path / 'empty').mkdir()
    model_cfg['degrader_checkpoint'] = str(tmp_path / 'empty')
    with pytest.raises(FileNotFoundError, match='last_checkpoint'):
        LowToHighGAN(**model_cfg)
    model_cfg['lr_source'] = 'nearest'
    with pytest.raises(ValueError, match='lr_source'):
        LowToHighGAN(**model_cfg)


def test_stage2_architecture_mismatch_is_named(stage1, tmp_path):
    _, work_dir1 = stage1
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'sr', 'low_to_high_faces64.py'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.pop('type')
    model_cfg['degrader_checkpoint'] = work_dir1  # trained with channels=4, config says 16
    with pytest.raises(ValueError, match='network config differs'):
        LowToHighGAN(**model_cfg)


def test_optim_constructor_errors():
    model = torch.nn.Module()
    model.generator = torch.nn.Linear(2, 2)
    ctor = SubnetOptimWrapperConstructor(dict(generator=dict(optimizer=dict(type='SGD', lr=0.1)),
                                              critic=dict(optimizer=dict(type='SGD', lr=0.1))))
    with pytest.raises(KeyError, match="'critic' names no sub-network"):
        ctor(model)
    with pytest.raises(ValueError, match="'optimizer'"):
        SubnetOptimWrapperConstructor(dict(generator=dict(lr=0.1)))
