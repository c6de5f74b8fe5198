"""A few iterations of both SR stages through mmengine's Runner, from the shipped configs."""
import copy
import importlib.util
import os.path as osp

import cv2
import numpy as np

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import plugins  # noqa: F401
from plugins.datasets import DATA_GENERATORS
from plugins.sr import LowToHighGAN, SubnetOptimWrapperConstructor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
pytestmark = pytest.mark.slow  # short real training runs

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


@pytest.fixture(scope='module')
def stage2(stage1, data_root, tmp_path_factory):
    _, work_dir1 = stage1
    work_dir = str(tmp_path_factory.mktemp('lh'))
    cfg = _cfg('low_to_high_faces64', data_root, work_dir)
    cfg.model.degrader_checkpoint = work_dir1  # the work dir: its last_checkpoint is followed
    return _train(cfg), work_dir


def test_stage2_loads_stage1_generator_and_trains(stage1, stage2):
    runner1, work_dir1 = stage1
    runner, _ = stage2
    model = runner.model
    assert model.degrader_loaded_from == osp.join(work_dir1, 'iter_3.pth')
    trained = runner1.model.generator.state_dict()
    for key, value in model.degrader.state_dict().items():
        assert torch.equal(value, trained[key]), key  # stage-1 weights, untouched by stage 2
    assert not any(p.requires_grad for p in model.degrader.parameters())
    assert runner.message_hub.get_scalar('val/lh/psnr').current() > 0


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, 'tools', 'sr', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_super_resolve_tool_converts_and_rejects(stage2, tmp_path):
    _, work_dir = stage2
    config = osp.join(work_dir, 'low_to_high_faces64.py')  # the run's config, dumped by Runner
    inputs = tmp_path / 'in'
    inputs.mkdir()
    cv2.imwrite(str(inputs / 'grey.png'), np.full((16, 16), 90, np.uint8))
    cv2.imwrite(str(inputs / 'rgba.png'), np.full((20, 24, 4), 200, np.uint8))
    tool = _tool('super_resolve')
    out = tool.main([config, work_dir, str(inputs), str(tmp_path / 'out'),
                     '--side-by-side', str(tmp_path / 'sbs.png')])
    shapes = sorted(cv2.imread(p).shape for p in out)
    assert shapes == [(64, 64, 3), (80, 96, 3)]
    assert (tmp_path / 'sbs.png').is_file()
    out = tool.main([config, work_dir, str(inputs), str(tmp_path / 'out16'), '--lr-size', '16'])
    assert all(cv2.imread(p).shape == (64, 64, 3) for p in out)
    with pytest.raises(ValueError, match='smaller than the required 32x32'):
        tool.main([config, work_dir, str(inputs), str(tmp_path / 'o'), '--lr-size', '32'])
    cv2.imwrite(str(inputs / 'tiny.png'), np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(ValueError, match='at least 4 px'):
        tool.main([config, work_dir, str(inputs), str(tmp_path / 'o2')])
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='is empty'):
        tool.main([config, work_dir, str(empty), str(tmp_path / 'o3')])


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


def test_stage1_resumes_networks_and_both_optimisers(stage1, data_root):
    _, work_dir = stage1
    cfg = _cfg('high_to_low_faces64', data_root, work_dir, iters=5)
    cfg.experiment_name = 'resume_hl'
    cfg.resume = True  # from the work dir's last checkpoint (iteration 3)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 5
    for name in ('generator', 'discriminator'):
        state = runner.optim_wrapper[name].optimizer.state
        steps = {int(s['step']) for s in state.values()}
        assert steps == {5}, (name, steps)  # 3 restored + 2 new Adam steps
