"""Stage 2: the Low-to-High GAN trained on the pairs that the stage-1 generator produces.

"To learn image super-resolution, use a GAN to learn how to do image degradation first"
(Bulat et al., 2018), Sec. 3.3: the trained High-to-Low generator degrades each HR image (with a
fresh noise vector) and the Low-to-High generator learns to undo it, with the L2 pixel loss to
the HR image and the hinge loss of a discriminator that sees real HR images.
"""
from __future__ import annotations

import torch
from mmengine.registry import MODELS
from torch import nn
from torch.nn import functional as F

from .checkpoint import load_submodule_weights
from .gan_model import AlternatingGAN, from_net, to_net

__all__ = ['LowToHighGAN']

LR_SOURCES = ('degrader', 'bicubic', 'dataset')


@MODELS.register_module()
class LowToHighGAN(AlternatingGAN):
    """Low-to-High GAN.

    Args:
        generator, discriminator, pixel_weight, adv_weight, disc_steps, data_preprocessor,
            init_cfg: see :class:`AlternatingGAN`.
        lr_source: where the training LR inputs come from:
            ``'degrader'`` (the paper): the frozen stage-1 generator applied to ``hr``;
            ``'bicubic'`` (the usual baseline): bicubic downsampling of ``hr``;
            ``'dataset'``: the batch's ``lr`` (only meaningful for paired data).
        degrader: config of the High-to-Low generator (needed for ``'degrader'``).
        degrader_checkpoint: stage-1 checkpoint (``.pth`` file or work dir); its ``generator.*``
            weights are loaded into ``degrader``. ``None`` keeps the degrader's current weights
            (e.g. when loading a whole stage-2 checkpoint afterwards).
    """

    def __init__(self,
                 generator: dict,
                 discriminator: dict,
                 lr_source: str = 'degrader',
                 degrader: dict | None = None,
                 degrader_checkpoint: str | None = None,
                 **kwargs) -> None:
        super().__init__(generator, discriminator, **kwargs)
        if lr_source not in LR_SOURCES:
            raise ValueError(f'lr_source must be one of {LR_SOURCES}, got {lr_source!r}')
        if lr_source == 'degrader' and degrader is None:
            raise ValueError("lr_source='degrader' needs the degrader config (the stage-1 "
                             'HighToLowGenerator) and its degrader_checkpoint')
        self.lr_source = lr_source
        self.degrader: nn.Module | None = MODELS.build(degrader) if degrader is not None else None
        self.degrader_checkpoint = degrader_checkpoint
        self.degrader_loaded_from: str | None = None
        if self.degrader is not None:
            self.degrader.requires_grad_(False)
            self.degrader.eval()
            self._load_degrader()

    def _load_degrader(self) -> None:
        if self.degrader is not None and self.degrader_checkpoint:
            self.degrader_loaded_from = load_submodule_weights(self.degrader,
                                                               self.degrader_checkpoint)

    def init_weights(self) -> None:
        """mmengine's initialisation, then the stage-1 weights again (never re-initialised)."""
        super().init_weights()
        self._load_degrader()

    def train(self, mode: bool = True) -> 'LowToHighGAN':
        super().train(mode)
        if self.degrader is not None:
            self.degrader.eval()  # frozen: batch-norm statistics of stage 1
        return self

    def degrade(self, hr: torch.Tensor) -> torch.Tensor:
        """Training LR input for HR images (B, 3, H, W) in [0, 1]; returns [-1, 1]."""
        if self.lr_source == 'degrader':
            with torch.no_grad():
                return self.degrader(to_net(hr)).clamp(-1, 1)
        scale = self.generator.scale
        return to_net(
            F.interpolate(hr, scale_factor=1 / scale, mode='bicubic', antialias=True).clamp(0, 1))

    def train_step(self, data: dict, optim_wrapper) -> dict:
        data = dict(data)
        if self.lr_source != 'dataset':
            # one degraded batch for both the discriminator and the generator update
            data['lr_input'] = self.degrade(self.data_preprocessor(data, True)['hr'])
        return super().train_step(data, optim_wrapper)

    def generate(self, data: dict, noise: torch.Tensor | None = None) -> torch.Tensor:
        lr = data['lr_input'] if 'lr_input' in data else to_net(data['lr'])
        return self.generator(lr)

    def pixel_target(self, data: dict) -> torch.Tensor:
        return to_net(data['hr'])

    def real_samples(self, data: dict) -> torch.Tensor:
        return to_net(data['hr'])

    def predict(self, data: dict) -> list[dict]:
        """Super-resolve the batch's (real) ``lr``. Per sample: ``pred`` (SR), ``input`` (LR),
        ``real`` (the batch's HR) and ``gt`` (the HR when the pair is real, ``paired``)."""
        pred = from_net(self.generator(to_net(data['lr'])))
        paired = data.get('paired', torch.zeros(len(pred), dtype=torch.bool))
        out = []
        for i in range(len(pred)):
            item = dict(pred=pred[i], input=data['lr'][i])
            if 'hr' in data:
                item['real'] = data['hr'][i]
                if bool(paired[i]):
                    item['gt'] = data['hr'][i]
            out.append(item)
        return out

    def sample_grid(self, data: dict) -> list[torch.Tensor]:
        """Rows: training LR input (degraded HR), its SR, the HR; then a real LR, its bicubic
        upsampling, its SR. Each (B, 3, h, w) in [0, 1]."""
        data = self.data_preprocessor(data, False)
        scale = self.generator.scale
        with torch.no_grad():
            lr_in = self.degrade(data['hr'])
            rows = [from_net(lr_in), from_net(self.generator(lr_in)), data['hr']]
            if 'lr' in data:
                lr = data['lr']
                rows += [lr, F.interpolate(lr, scale_factor=scale, mode='bicubic').clamp(0, 1),
                         from_net(self.generator(to_net(lr)))]
        return rows
